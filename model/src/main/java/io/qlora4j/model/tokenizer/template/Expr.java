package io.qlora4j.model.tokenizer.template;

import java.util.List;
import java.util.Map;

/** An expression of a parsed template. {@code offset} is the position in the source, for errors. */
sealed interface Expr {
    int offset();

    record Literal(Value value, int offset) implements Expr {
    }

    record Name(String name, int offset) implements Expr {
    }

    record ListExpr(List<Expr> items, int offset) implements Expr {
    }

    record DictExpr(List<Expr> keys, List<Expr> values, int offset) implements Expr {
    }

    /** {@code target.name}. */
    record Attribute(Expr target, String name, int offset) implements Expr {
    }

    /** {@code target[index]}. */
    record Index(Expr target, Expr index, int offset) implements Expr {
    }

    /** {@code target[start:stop:step]}; absent parts are null. */
    record Slice(Expr target, Expr start, Expr stop, Expr step, int offset) implements Expr {
    }

    /** {@code callee(args, name=value)}. */
    record Call(Expr callee, List<Expr> args, Map<String, Expr> kwargs, int offset) implements Expr {
    }

    /** {@code target | name(args)}. */
    record Filter(Expr target, String name, List<Expr> args, Map<String, Expr> kwargs, int offset) implements Expr {
    }

    /** {@code target is [not] name(args)}. */
    record Test(Expr target, String name, boolean negated, List<Expr> args, int offset) implements Expr {
    }

    /** Unary {@code -}, {@code +} or {@code not}. */
    record Unary(String op, Expr operand, int offset) implements Expr {
    }

    /** Arithmetic and concatenation: {@code + - * / // % ** ~}. */
    record Binary(String op, Expr left, Expr right, int offset) implements Expr {
    }

    /** {@code and} / {@code or}, short-circuit, returning an operand as Python does. */
    record Logical(boolean isAnd, Expr left, Expr right, int offset) implements Expr {
    }

    /** {@code a < b <= c}: a chain of comparisons ({@code == != < <= > >= in notin}). */
    record Compare(Expr first, List<String> ops, List<Expr> rest, int offset) implements Expr {
    }

    /** {@code then if test else orElse}; {@code orElse} null means undefined. */
    record Conditional(Expr test, Expr then, Expr orElse, int offset) implements Expr {
    }
}
