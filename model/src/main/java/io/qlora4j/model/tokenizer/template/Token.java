package io.qlora4j.model.tokenizer.template;

/**
 * A lexical token of a template: literal text between tags, the delimiters of {@code {{ }}} and {@code {% %}} tags,
 * and the expression tokens inside them.
 *
 * @param type   what it is
 * @param value  the text (after whitespace control for {@link Type#TEXT}, unescaped for {@link Type#STRING})
 * @param offset where it starts in the template source
 */
record Token(Type type, String value, int offset) {
    enum Type { TEXT, VARIABLE_BEGIN, VARIABLE_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INTEGER, FLOAT, OPERATOR, EOF }

    boolean is(Type t, String v) {
        return type == t && value.equals(v);
    }

    boolean isName(String v) {
        return is(Type.NAME, v);
    }

    boolean isOperator(String v) {
        return is(Type.OPERATOR, v);
    }
}
