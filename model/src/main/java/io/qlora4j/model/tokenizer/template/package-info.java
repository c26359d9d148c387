/**
 * A Jinja2-subset interpreter for chat templates ({@code Lexer} → {@code Parser} → {@code Interpreter}) whose strings
 * carry tags ({@code TaggedText}) recording which characters are message content and which are end-of-turn markers.
 */
package io.qlora4j.model.tokenizer.template;
