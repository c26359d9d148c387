package io.qlora4j.model.tokenizer.template;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A runtime value of the template interpreter, with Python/Jinja2 semantics for truthiness, printing ({@code str}),
 * equality and ordering. Strings are {@link TaggedText}, so their origin survives every operation.
 */
sealed interface Value {
    record Str(TaggedText text) implements Value {
        static Str of(String s) {
            return new Str(TaggedText.plain(s));
        }

        String value() {
            return text.text();
        }
    }

    record Int(long value) implements Value {
    }

    record Flt(double value) implements Value {
    }

    record Bool(boolean value) implements Value {
    }

    /** Python {@code None}. */
    record None() implements Value {
    }

    /** Jinja2's default {@code Undefined}: prints as "", is false, fails on attribute access and arithmetic. */
    record Undefined(String name) implements Value {
    }

    record ListValue(List<Value> items) implements Value {
        public ListValue {
            items = List.copyOf(items);
        }
    }

    /** A dict with string keys in insertion order. */
    record DictValue(Map<String, Value> entries) implements Value {
        public DictValue {
            entries = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(entries));
        }
    }

    /** Jinja2 {@code namespace(...)}: the one mutable value, assigned with {@code {% set ns.attr = ... %}}. */
    record Namespace(Map<String, Value> attributes) implements Value {
    }

    Value NONE = new None();
    Value TRUE = new Bool(true);
    Value FALSE = new Bool(false);

    static Value bool(boolean b) {
        return b ? TRUE : FALSE;
    }

    /** Python truthiness. */
    static boolean truthy(Value v) {
        return switch (v) {
            case Str s -> !s.value().isEmpty();
            case Int i -> i.value() != 0;
            case Flt f -> f.value() != 0;
            case Bool b -> b.value();
            case None n -> false;
            case Undefined u -> false;
            case ListValue l -> !l.items().isEmpty();
            case DictValue d -> !d.entries().isEmpty();
            case Namespace ns -> true;
        };
    }

    /** Python {@code str(v)} as Jinja2 prints it, keeping the tags of strings. */
    static TaggedText str(Value v) {
        return v instanceof Str s ? s.text() : TaggedText.plain(repr(v, false));
    }

    /** Python {@code repr} ({@code quoteStrings}) or {@code str} of non-string values. */
    static String repr(Value v, boolean quoteStrings) {
        return switch (v) {
            case Str s -> quoteStrings ? pythonQuote(s.value()) : s.value();
            case Int i -> Long.toString(i.value());
            case Flt f -> pythonFloat(f.value());
            case Bool b -> b.value() ? "True" : "False";
            case None n -> "None";
            case Undefined u -> "";
            case ListValue l -> {
                List<String> parts = new ArrayList<>();
                l.items().forEach(item -> parts.add(repr(item, true)));
                yield "[" + String.join(", ", parts) + "]";
            }
            case DictValue d -> {
                List<String> parts = new ArrayList<>();
                d.entries().forEach((k, item) -> parts.add(pythonQuote(k) + ": " + repr(item, true)));
                yield "{" + String.join(", ", parts) + "}";
            }
            case Namespace ns -> "<Namespace " + ns.attributes().keySet() + ">";
        };
    }

    private static String pythonQuote(String s) {
        String q = s.contains("'") && !s.contains("\"") ? "\"" : "'";
        StringBuilder sb = new StringBuilder(q);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                default -> sb.append(q.charAt(0) == c ? "\\" + c : String.valueOf(c));
            }
        }
        return sb.append(q).toString();
    }

    /** Python's shortest float repr for the common cases ({@code 1.0}, {@code 0.5}, {@code 1e+20}, {@code inf}). */
    private static String pythonFloat(double d) {
        if (Double.isNaN(d)) {
            return "nan";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        }
        if (d == Math.rint(d) && Math.abs(d) < 1e16) {
            return String.format("%.1f", d);
        }
        String s = Double.toString(d);
        int e = s.indexOf('E');
        if (e < 0) {
            return s;
        }
        String exponent = s.substring(e + 1);
        String mantissa = s.substring(0, e).replaceAll("\\.0$", "");
        return mantissa + "e" + (exponent.startsWith("-") ? "-" : "+") + String.format("%02d",
                Math.abs(Integer.parseInt(exponent)));
    }

    /** Python {@code ==} ({@code 1 == 1.0 == True}; undefined equals only undefined). */
    static boolean equal(Value a, Value b) {
        if (isNumber(a) && isNumber(b)) {
            return (a instanceof Flt || b instanceof Flt) ? asDouble(a) == asDouble(b) : asLong(a) == asLong(b);
        }
        return switch (a) {
            case Str s -> b instanceof Str t && s.value().equals(t.value());
            case None n -> b instanceof None;
            case Undefined u -> b instanceof Undefined;
            case ListValue l -> {
                if (!(b instanceof ListValue m) || l.items().size() != m.items().size()) {
                    yield false;
                }
                for (int i = 0; i < l.items().size(); i++) {
                    if (!equal(l.items().get(i), m.items().get(i))) {
                        yield false;
                    }
                }
                yield true;
            }
            case DictValue d -> {
                if (!(b instanceof DictValue e) || !d.entries().keySet().equals(e.entries().keySet())) {
                    yield false;
                }
                for (var entry : d.entries().entrySet()) {
                    if (!equal(entry.getValue(), e.entries().get(entry.getKey()))) {
                        yield false;
                    }
                }
                yield true;
            }
            case Namespace ns -> a == b;
            default -> false;
        };
    }

    /** Python ordering of numbers, strings (by code point) and lists; null when the two are not comparable. */
    static Integer compare(Value a, Value b) {
        if (isNumber(a) && isNumber(b)) {
            return (a instanceof Flt || b instanceof Flt) ? Double.compare(asDouble(a), asDouble(b))
                    : Long.compare(asLong(a), asLong(b));
        }
        if (a instanceof Str s && b instanceof Str t) {
            return compareCodePoints(s.value(), t.value());
        }
        if (a instanceof ListValue l && b instanceof ListValue m) {
            for (int i = 0; i < Math.min(l.items().size(), m.items().size()); i++) {
                if (!equal(l.items().get(i), m.items().get(i))) {
                    return compare(l.items().get(i), m.items().get(i));
                }
            }
            return Integer.compare(l.items().size(), m.items().size());
        }
        return null;
    }

    private static int compareCodePoints(String a, String b) {
        int i = 0, j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i), cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }

    /** Numbers in Python's sense: int, float and bool. */
    static boolean isNumber(Value v) {
        return v instanceof Int || v instanceof Flt || v instanceof Bool;
    }

    static long asLong(Value v) {
        return switch (v) {
            case Int i -> i.value();
            case Bool b -> b.value() ? 1 : 0;
            case Flt f -> (long) f.value();
            default -> throw new IllegalArgumentException("not a number: " + typeName(v));
        };
    }

    static double asDouble(Value v) {
        return v instanceof Flt f ? f.value() : asLong(v);
    }

    /** The Python type name, for error messages. */
    static String typeName(Value v) {
        return switch (v) {
            case Str s -> "str";
            case Int i -> "int";
            case Flt f -> "float";
            case Bool b -> "bool";
            case None n -> "NoneType";
            case Undefined u -> "undefined" + (u.name().isEmpty() ? "" : " '" + u.name() + "'");
            case ListValue l -> "list";
            case DictValue d -> "dict";
            case Namespace ns -> "namespace";
        };
    }
}
