/**
 * Tokenizers: text to token ids and back, and chat templates.
 *
 * <p>{@link io.qlora4j.model.tokenizer.Tokenizer} is what the rest of qlora4j uses; {@link
 * io.qlora4j.model.tokenizer.Tokenizers#load} reads one from a model folder or file. Two implementations, both pure
 * Java and checked id for id against their references:
 * <ul>
 *   <li>{@code llama2c}: llama2.c {@code run.c} encode/decode over {@code tokenizer.bin}, or over a SentencePiece
 *       {@code tokenizer.model} converted the way llama2.c exports it;</li>
 *   <li>{@code hf}: Hugging Face {@code tokenizer.json} BPE (SentencePiece-style with byte fallback, and GPT-2
 *       byte-level), matching the Rust {@code tokenizers} library for the components it implements and refusing the
 *       others by name.</li>
 * </ul>
 * {@link io.qlora4j.model.tokenizer.ChatTemplate} renders {@code tokenizer_config.json} chat templates with the
 * Jinja2 subset of the {@code template} package and reports the training-target spans of assistant replies;
 * {@link io.qlora4j.model.tokenizer.Encoding#overlapMask} maps them onto tokens.
 */
package io.qlora4j.model.tokenizer;
