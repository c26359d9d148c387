package io.qlora4j.model.tokenizer.template;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a Jinja2 template into {@link Token}s, applying whitespace control as transformers configures Jinja2 for
 * chat templates ({@code trim_blocks=True, lstrip_blocks=True}, {@code keep_trailing_newline=False}):
 * <ul>
 *   <li>{@code {%- }, {@code {{- }, {@code {#- } strip all whitespace before the tag; {@code -%}}, {@code -}}},
 *       {@code -#}} all whitespace after it;</li>
 *   <li>trim_blocks: the first newline after a {@code %}} or {@code #}} is removed (not after {@code +%}});</li>
 *   <li>lstrip_blocks: spaces and tabs between the start of a line and a {@code {%} or {@code {#} are removed (not
 *       before {@code {%+});</li>
 *   <li>newlines are normalized to {@code \n} and one trailing newline of the template is dropped.</li>
 * </ul>
 * Comments are dropped. String literals are unescaped like Python's {@code unicode-escape}, as Jinja2 does.
 */
final class Lexer {
    private static final String[] OPERATORS = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<",
            ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"};

    private final Source source;
    private final String src;
    private final List<Token> tokens = new ArrayList<>();

    private Lexer(Source source) {
        this.source = source;
        this.src = source.text();
    }

    /** Jinja2's source preparation: {@code \r\n} and {@code \r} become {@code \n}; one trailing newline is dropped. */
    static String normalizeNewlines(String template) {
        String s = template.replace("\r\n", "\n").replace('\r', '\n');
        return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
    }

    static List<Token> tokenize(Source source) {
        Lexer lexer = new Lexer(source);
        lexer.run();
        return lexer.tokens;
    }

    private void run() {
        int pos = 0;
        char previousEndSign = 0;     // '-', '+' or 0 of the previous tag's end
        boolean previousWasBlock = false;
        while (pos <= src.length()) {
            int tagStart = findTagStart(pos);
            int textEnd = tagStart < 0 ? src.length() : tagStart;
            String text = src.substring(pos, textEnd);
            boolean lineStarting = pos == 0;
            if (previousEndSign == '-') {
                int k = 0;
                while (k < text.length() && isWhitespace(text.charAt(k))) {
                    k++;
                }
                lineStarting = k > 0 && text.charAt(k - 1) == '\n';
                text = text.substring(k);
            } else if (previousWasBlock && previousEndSign != '+' && text.startsWith("\n")) {
                text = text.substring(1);
                lineStarting = true;
            }
            if (tagStart >= 0) {
                char kind = src.charAt(tagStart + 1);
                char sign = tagStart + 2 < src.length() ? src.charAt(tagStart + 2) : 0;
                if (sign == '-') {
                    int k = text.length();
                    while (k > 0 && isWhitespace(text.charAt(k - 1))) {
                        k--;
                    }
                    text = text.substring(0, k);
                } else if (kind != '{' && sign != '+') {
                    int lineStart = text.lastIndexOf('\n') + 1;
                    if ((lineStart > 0 || lineStarting) && isSpacesAndTabs(text, lineStart)) {
                        text = text.substring(0, lineStart);
                    }
                }
            }
            if (!text.isEmpty()) {
                tokens.add(new Token(Token.Type.TEXT, text, pos));
            }
            if (tagStart < 0) {
                break;
            }
            char kind = src.charAt(tagStart + 1);
            int p = tagStart + 2;
            if (p < src.length() && (src.charAt(p) == '-' || src.charAt(p) == '+')) {
                p++;
            }
            if (kind == '#') {
                int end = src.indexOf("#}", p);
                if (end < 0) {
                    throw source.error(tagStart, "comment {# is never closed with #}");
                }
                previousEndSign = end > p && (src.charAt(end - 1) == '-' || src.charAt(end - 1) == '+')
                        ? src.charAt(end - 1) : 0;
                previousWasBlock = true;
                pos = end + 2;
                continue;
            }
            boolean block = kind == '%';
            tokens.add(new Token(block ? Token.Type.BLOCK_BEGIN : Token.Type.VARIABLE_BEGIN, block ? "{%" : "{{", tagStart));
            int[] endAndSign = lexExpression(p, block ? "%}" : "}}", tagStart);
            tokens.add(new Token(block ? Token.Type.BLOCK_END : Token.Type.VARIABLE_END, block ? "%}" : "}}",
                    endAndSign[0] - 2));
            pos = endAndSign[0];
            previousEndSign = (char) endAndSign[1];
            previousWasBlock = block;
        }
        tokens.add(new Token(Token.Type.EOF, "", src.length()));
    }

    private int findTagStart(int from) {
        int i = src.indexOf('{', from);
        while (i >= 0 && i + 1 < src.length()) {
            char c = src.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') {
                return i;
            }
            i = src.indexOf('{', i + 1);
        }
        return -1;
    }

    /** Lexes expression tokens up to {@code end}; returns {index after the end delimiter, sign before it or 0}. */
    private int[] lexExpression(int p, String end, int tagStart) {
        int depth = 0; // open ( [ {: as in Jinja2, "}}" inside a dict literal does not end the tag
        while (true) {
            while (p < src.length() && isWhitespace(src.charAt(p))) {
                p++;
            }
            if (p >= src.length()) {
                throw source.error(tagStart, "tag " + src.substring(tagStart, Math.min(tagStart + 2, src.length()))
                        + " is never closed with " + end);
            }
            if (depth == 0 && src.startsWith(end, p)) {
                return new int[] {p + end.length(), 0};
            }
            if (depth == 0 && (src.charAt(p) == '-' || src.charAt(p) == '+') && src.startsWith(end, p + 1)
                    && (src.charAt(p) == '-' || end.equals("%}"))) {
                return new int[] {p + 1 + end.length(), src.charAt(p)};
            }
            char c = src.charAt(p);
            if (c == '\'' || c == '"') {
                p = lexString(p);
            } else if (Character.isDigit(c)) {
                p = lexNumber(p);
            } else if (Character.isLetter(c) || c == '_') {
                int start = p;
                while (p < src.length() && (Character.isLetterOrDigit(src.charAt(p)) || src.charAt(p) == '_')) {
                    p++;
                }
                tokens.add(new Token(Token.Type.NAME, src.substring(start, p), start));
            } else {
                String op = null;
                for (String candidate : OPERATORS) {
                    if (src.startsWith(candidate, p)) {
                        op = candidate;
                        break;
                    }
                }
                if (op == null) {
                    throw source.error(p, "unexpected character '" + c + "' in a template tag");
                }
                if (op.equals("(") || op.equals("[") || op.equals("{")) {
                    depth++;
                } else if (op.equals(")") || op.equals("]") || op.equals("}")) {
                    depth = Math.max(0, depth - 1);
                }
                tokens.add(new Token(Token.Type.OPERATOR, op, p));
                p += op.length();
            }
        }
    }

    private int lexNumber(int p) {
        int start = p;
        while (p < src.length() && (Character.isDigit(src.charAt(p)) || src.charAt(p) == '_')) {
            p++;
        }
        boolean isFloat = false;
        if (p + 1 < src.length() && src.charAt(p) == '.' && Character.isDigit(src.charAt(p + 1))) {
            isFloat = true;
            p++;
            while (p < src.length() && (Character.isDigit(src.charAt(p)) || src.charAt(p) == '_')) {
                p++;
            }
        }
        if (p < src.length() && (src.charAt(p) == 'e' || src.charAt(p) == 'E')) {
            int q = p + 1;
            if (q < src.length() && (src.charAt(q) == '+' || src.charAt(q) == '-')) {
                q++;
            }
            if (q < src.length() && Character.isDigit(src.charAt(q))) {
                isFloat = true;
                p = q;
                while (p < src.length() && Character.isDigit(src.charAt(p))) {
                    p++;
                }
            }
        }
        tokens.add(new Token(isFloat ? Token.Type.FLOAT : Token.Type.INTEGER, src.substring(start, p).replace("_", ""),
                start));
        return p;
    }

    private int lexString(int p) {
        char quote = src.charAt(p);
        int start = p;
        StringBuilder sb = new StringBuilder();
        p++;
        while (true) {
            if (p >= src.length()) {
                throw source.error(start, "string literal is never closed with " + quote);
            }
            char c = src.charAt(p);
            if (c == quote) {
                break;
            }
            if (c != '\\') {
                sb.append(c);
                p++;
                continue;
            }
            if (p + 1 >= src.length()) {
                throw source.error(start, "string literal ends with a backslash");
            }
            char e = src.charAt(p + 1);
            p += 2;
            switch (e) {
                case 'n' -> sb.append('\n');
                case 't' -> sb.append('\t');
                case 'r' -> sb.append('\r');
                case '\\' -> sb.append('\\');
                case '\'' -> sb.append('\'');
                case '"' -> sb.append('"');
                case 'a' -> sb.append('\u0007');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'v' -> sb.append('\u000B');
                case '\n' -> { } // backslash-newline continues the line
                case 'x', 'u', 'U' -> {
                    int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (p + digits > src.length()) {
                        throw source.error(p - 2, "truncated \\" + e + " escape in a string literal");
                    }
                    try {
                        sb.appendCodePoint(Integer.parseInt(src.substring(p, p + digits), 16));
                    } catch (IllegalArgumentException ex) {
                        throw source.error(p - 2, "invalid \\" + e + " escape '" + src.substring(p, p + digits) + "'");
                    }
                    p += digits;
                }
                default -> {
                    if (e >= '0' && e <= '7') {
                        int value = e - '0';
                        for (int k = 0; k < 2 && p < src.length() && src.charAt(p) >= '0' && src.charAt(p) <= '7'; k++) {
                            value = value * 8 + src.charAt(p++) - '0';
                        }
                        sb.append((char) value);
                    } else {
                        sb.append('\\').append(e); // Python keeps unknown escapes as written
                    }
                }
            }
        }
        tokens.add(new Token(Token.Type.STRING, sb.toString(), start));
        return p + 1;
    }

    private static boolean isSpacesAndTabs(String s, int from) {
        for (int i = from; i < s.length(); i++) {
            if (s.charAt(i) != ' ' && s.charAt(i) != '\t') {
                return false;
            }
        }
        return true;
    }

    /** Python's {@code str.isspace} for one char (what Jinja2's {@code \s} strips). */
    static boolean isWhitespace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }
}
