package io.qlora4j.model.tokenizer.template;

import java.util.Map;

/**
 * transformers' {@code tojson} template filter: Python {@code json.dumps(x, ensure_ascii=False)} with the default
 * separators {@code ", "} and {@code ": "}.
 */
final class Json {
    private Json() {
    }

    static String write(Value v) {
        StringBuilder sb = new StringBuilder();
        write(v, sb);
        return sb.toString();
    }

    private static void write(Value v, StringBuilder sb) {
        switch (v) {
            case Value.Str s -> quote(s.value(), sb);
            case Value.Int i -> sb.append(i.value());
            case Value.Flt f -> sb.append(Value.repr(f, false).replace("inf", "Infinity").replace("nan", "NaN"));
            case Value.Bool b -> sb.append(b.value());
            case Value.None n -> sb.append("null");
            case Value.ListValue l -> {
                sb.append('[');
                for (int i = 0; i < l.items().size(); i++) {
                    sb.append(i == 0 ? "" : ", ");
                    write(l.items().get(i), sb);
                }
                sb.append(']');
            }
            case Value.DictValue d -> {
                sb.append('{');
                boolean first = true;
                for (Map.Entry<String, Value> e : d.entries().entrySet()) {
                    sb.append(first ? "" : ", ");
                    first = false;
                    quote(e.getKey(), sb);
                    sb.append(": ");
                    write(e.getValue(), sb);
                }
                sb.append('}');
            }
            default -> throw new EvalException("tojson: object of type " + Value.typeName(v) + " is not JSON serializable");
        }
    }

    private static void quote(String s, StringBuilder sb) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
