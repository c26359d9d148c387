/**
 * Hugging Face {@code tokenizer.json} BPE tokenizers, one class per pipeline stage of the Rust {@code tokenizers}
 * library: {@code AddedVocabulary}, {@code Normalizer}, {@code PreTokenizer}, {@code BpeModel}, {@code PostProcessor},
 * {@code Decoder}; {@code HfTokenizerLoader} reads the file and {@code HfTokenizer} runs the pipeline.
 */
package io.qlora4j.model.tokenizer.hf;
