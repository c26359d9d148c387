package io.qlora4j.model.io;

import java.util.Comparator;

/**
 * The two JSON spellings our files must match byte for byte, written by hand because Jackson escapes differently
 * (uppercase hex): the safetensors header as Rust's {@code serde_json} writes it, and the shard index as Python's
 * {@code json.dumps} (default {@code ensure_ascii=True}) writes it. Only strings need care; the rest of both documents
 * is integers and punctuation.
 */
final class JsonText {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /** Unicode code point order, which is Rust's {@code String} order (UTF-8 bytes) and Python's {@code str} order. */
    static final Comparator<String> CODE_POINT_ORDER = (a, b) -> {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Boolean.compare(i < a.length(), j < b.length());
    };

    private JsonText() {
    }

    /** serde_json: escapes {@code "}, {@code \}, and controls below 0x20; everything else, DEL and non-ASCII included, raw. */
    static void appendSerde(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == '"' || c == '\\') {
                appendEscape(out, c);
            } else {
                out.append(c);
            }
        }
        out.append('"');
    }

    /** Python {@code json.dumps}: like serde_json, but every char outside {@code ' '..'~'} becomes {@code \}{@code uXXXX}. */
    static void appendPythonAscii(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == '"' || c == '\\' || c > '~') {
                appendEscape(out, c);
            } else {
                out.append(c);
            }
        }
        out.append('"');
    }

    private static void appendEscape(StringBuilder out, char c) {
        switch (c) {
            case '"' -> out.append("\\\"");
            case '\\' -> out.append("\\\\");
            case '\b' -> out.append("\\b");
            case '\f' -> out.append("\\f");
            case '\n' -> out.append("\\n");
            case '\r' -> out.append("\\r");
            case '\t' -> out.append("\\t");
            default -> out.append("\\u").append(HEX[c >> 12]).append(HEX[(c >> 8) & 15])
                    .append(HEX[(c >> 4) & 15]).append(HEX[c & 15]);
        }
    }
}
