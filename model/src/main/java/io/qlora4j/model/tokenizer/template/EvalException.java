package io.qlora4j.model.tokenizer.template;

/**
 * A runtime error inside a builtin or an operator, without a source position; the interpreter turns it into a
 * {@link TemplateException} at the position of the expression being evaluated.
 */
final class EvalException extends RuntimeException {
    EvalException(String message) {
        super(message, null, false, false);
    }
}
