package io.qlora4j.model.tokenizer.template;

import java.util.ArrayList;
import java.util.List;

/**
 * Python semantics of the binary and comparison operators for {@link Value}s: {@code + - * / // % **} on numbers
 * (ints stay exact, overflow is an error), {@code +} and {@code *} on strings and lists, {@code ~} (Jinja2 string
 * concatenation of anything), {@code == != < <= > >=}, {@code in} and {@code not in}.
 */
final class Operators {
    private Operators() {
    }

    static Value binary(String op, Value a, Value b) {
        if (op.equals("~")) {
            return new Value.Str(Value.str(a).concat(Value.str(b)));
        }
        if (a instanceof Value.Undefined u) {
            throw new EvalException("'" + u.name() + "' is undefined (operand of " + op + ")");
        }
        if (b instanceof Value.Undefined u) {
            throw new EvalException("'" + u.name() + "' is undefined (operand of " + op + ")");
        }
        if (Value.isNumber(a) && Value.isNumber(b)) {
            return arithmetic(op, a, b);
        }
        if (op.equals("+") && a instanceof Value.Str s && b instanceof Value.Str t) {
            return new Value.Str(s.text().concat(t.text()));
        }
        if (op.equals("+") && a instanceof Value.ListValue l && b instanceof Value.ListValue m) {
            List<Value> joined = new ArrayList<>(l.items());
            joined.addAll(m.items());
            return new Value.ListValue(joined);
        }
        if (op.equals("*") && (a instanceof Value.Str || a instanceof Value.ListValue) && (b instanceof Value.Int || b instanceof Value.Bool)) {
            return repeat(a, Value.asLong(b));
        }
        if (op.equals("*") && (b instanceof Value.Str || b instanceof Value.ListValue) && (a instanceof Value.Int || a instanceof Value.Bool)) {
            return repeat(b, Value.asLong(a));
        }
        if (op.equals("%") && a instanceof Value.Str) {
            throw new EvalException("string formatting with % is not supported; use ~ or +");
        }
        throw new EvalException("unsupported operand types for " + op + ": '" + Value.typeName(a) + "' and '"
                + Value.typeName(b) + "'");
    }

    private static Value arithmetic(String op, Value a, Value b) {
        boolean isFloat = a instanceof Value.Flt || b instanceof Value.Flt;
        if (op.equals("/")) {
            double d = Value.asDouble(b);
            if (d == 0) {
                throw new EvalException("division by zero");
            }
            return new Value.Flt(Value.asDouble(a) / d);
        }
        if (isFloat) {
            double x = Value.asDouble(a), y = Value.asDouble(b);
            return switch (op) {
                case "+" -> new Value.Flt(x + y);
                case "-" -> new Value.Flt(x - y);
                case "*" -> new Value.Flt(x * y);
                case "**" -> new Value.Flt(Math.pow(x, y));
                case "//", "%" -> {
                    if (y == 0) {
                        throw new EvalException("float modulo or floor division by zero");
                    }
                    double q = Math.floor(x / y);
                    yield op.equals("//") ? new Value.Flt(q) : new Value.Flt(x - q * y);
                }
                default -> throw new EvalException("unknown operator " + op);
            };
        }
        long x = Value.asLong(a), y = Value.asLong(b);
        try {
            return switch (op) {
                case "+" -> new Value.Int(Math.addExact(x, y));
                case "-" -> new Value.Int(Math.subtractExact(x, y));
                case "*" -> new Value.Int(Math.multiplyExact(x, y));
                case "**" -> y < 0 ? new Value.Flt(Math.pow(x, y)) : new Value.Int(power(x, y));
                case "//", "%" -> {
                    if (y == 0) {
                        throw new EvalException("integer division or modulo by zero");
                    }
                    yield op.equals("//") ? new Value.Int(Math.floorDiv(x, y)) : new Value.Int(Math.floorMod(x, y));
                }
                default -> throw new EvalException("unknown operator " + op);
            };
        } catch (ArithmeticException e) {
            throw new EvalException("integer overflow in " + x + " " + op + " " + y);
        }
    }

    private static long power(long base, long exponent) {
        long result = 1;
        for (long i = 0; i < exponent; i++) {
            result = Math.multiplyExact(result, base);
        }
        return result;
    }

    private static Value repeat(Value v, long times) {
        if (v instanceof Value.Str s) {
            TaggedText out = TaggedText.EMPTY;
            for (long i = 0; i < times; i++) {
                out = out.concat(s.text());
            }
            return new Value.Str(out);
        }
        List<Value> out = new ArrayList<>();
        for (long i = 0; i < times; i++) {
            out.addAll(((Value.ListValue) v).items());
        }
        return new Value.ListValue(out);
    }

    static boolean compare(String op, Value a, Value b) {
        return switch (op) {
            case "==" -> Value.equal(a, b);
            case "!=" -> !Value.equal(a, b);
            case "in" -> contains(b, a);
            case "notin" -> !contains(b, a);
            default -> {
                Integer c = Value.compare(a, b);
                if (c == null) {
                    throw new EvalException("'" + op + "' is not supported between '" + Value.typeName(a) + "' and '"
                            + Value.typeName(b) + "'");
                }
                yield switch (op) {
                    case "<" -> c < 0;
                    case "<=" -> c <= 0;
                    case ">" -> c > 0;
                    default -> c >= 0;
                };
            }
        };
    }

    private static boolean contains(Value container, Value item) {
        return switch (container) {
            case Value.Str s -> {
                if (!(item instanceof Value.Str i)) {
                    throw new EvalException("'in <string>' requires a string on the left, got " + Value.typeName(item));
                }
                yield s.value().contains(i.value());
            }
            case Value.ListValue l -> l.items().stream().anyMatch(v -> Value.equal(v, item));
            case Value.DictValue d -> item instanceof Value.Str k && d.entries().containsKey(k.value());
            case Value.Undefined u -> throw new EvalException("'" + u.name() + "' is undefined (right side of 'in')");
            default -> throw new EvalException("argument of type '" + Value.typeName(container) + "' is not iterable");
        };
    }
}
