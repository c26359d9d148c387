/**
 * The llama2.c tokenizer ({@code run.c encode/decode}) and the readers of its vocabulary: llama2.c
 * {@code tokenizer.bin} and SentencePiece {@code tokenizer.model} (protobuf, parsed by hand).
 */
package io.qlora4j.model.tokenizer.llama2c;
