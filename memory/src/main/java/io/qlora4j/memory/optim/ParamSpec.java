package io.qlora4j.memory.optim;

/** A trainable parameter tensor as the optimizer sees it: a name (unique, used in exported state) and its element count. */
public record ParamSpec(String name, int elements) {
    public ParamSpec {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("parameter name is blank");
        if (elements <= 0) throw new IllegalArgumentException("parameter '" + name + "' has " + elements + " elements");
    }
}
