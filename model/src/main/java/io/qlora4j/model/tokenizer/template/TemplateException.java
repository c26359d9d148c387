package io.qlora4j.model.tokenizer.template;

import io.qlora4j.model.tokenizer.TokenizerException;

/**
 * A chat template that cannot be parsed (syntax, or a Jinja2 construct this interpreter does not implement) or that
 * fails while rendering ({@code raise_exception(...)}, a type error, an undefined value used in a way Jinja2 refuses).
 * The message names the template's origin, the line and column, and the construct.
 */
public final class TemplateException extends TokenizerException {
    public TemplateException(String message) {
        super(message);
    }
}
