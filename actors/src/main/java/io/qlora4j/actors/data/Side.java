package io.qlora4j.actors.data;

/** Which side of an {@link io.qlora4j.model.data.EvalSplit} a stream keeps. */
public enum Side {
    TRAIN, EVAL
}
