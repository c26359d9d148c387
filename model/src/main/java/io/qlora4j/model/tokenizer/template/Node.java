package io.qlora4j.model.tokenizer.template;

import java.util.List;

/** A statement of a parsed template. {@code offset} is the position in the source, for errors. */
sealed interface Node {
    /** Literal template text (tagged: literals may contain turn markers). */
    record Text(TaggedText text) implements Node {
    }

    /** {@code {{ expr }}}. */
    record Output(Expr expr, int offset) implements Node {
    }

    /** {@code {% if %}...{% elif %}...{% else %}...{% endif %}}: the first branch whose test is true runs. */
    record If(List<Branch> branches, List<Node> orElse) implements Node {
    }

    record Branch(Expr test, List<Node> body) {
    }

    /**
     * {@code {% for a[, b] in iterable [if filter] %}...{% else %}...{% endfor %}}; {@code filter} is null when
     * absent, {@code orElse} runs when nothing was iterated.
     */
    record For(List<String> targets, Expr iterable, Expr filter, List<Node> body, List<Node> orElse, int offset)
            implements Node {
    }

    /** {@code {% set name = expr %}} or {@code {% set ns.attr = expr %}} ({@code attribute} null for a plain name). */
    record Set(String name, String attribute, Expr value, int offset) implements Node {
    }

    /** {@code {% set name %}...{% endset %}}: the rendered body assigned to a variable. */
    record SetBlock(String name, List<Node> body) implements Node {
    }

    /** {@code {% break %}} / {@code {% continue %}} (Jinja2 loopcontrols, enabled by transformers). */
    record LoopControl(boolean isBreak, int offset) implements Node {
    }

    /** transformers' {@code {% generation %}...{% endgeneration %}}: renders its body unchanged. */
    record Generation(List<Node> body) implements Node {
    }
}
