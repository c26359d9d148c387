package io.qlora4j.model.tokenizer.template;

/** A template's text and where it came from, for error messages with line and column. */
record Source(String text, String origin) {
    /** "origin line L, column C" of the character at {@code offset}. */
    String where(int offset) {
        int line = 1;
        int lineStart = 0;
        for (int i = 0; i < Math.min(offset, text.length()); i++) {
            if (text.charAt(i) == '\n') {
                line++;
                lineStart = i + 1;
            }
        }
        return origin + " line " + line + ", column " + (offset - lineStart + 1);
    }

    TemplateException error(int offset, String message) {
        return new TemplateException("chat template " + where(offset) + ": " + message);
    }
}
