package io.qlora4j.model.io;

/**
 * Which elements of a query/key head RoPE rotates together, and therefore in which order a checkpoint stores the rows of
 * {@code q_proj} and {@code k_proj} (QLORA-REFERENCE §8.3). The two orders hold the same weights; converting between
 * them is {@link RopePermutation}.
 */
public enum RopeLayout {
    /** Meta / llama2.c: elements {@code (2j, 2j+1)} of a head form pair j ({@code run.c}). */
    INTERLEAVED_PAIRS,
    /** Hugging Face {@code rotate_half}: element j pairs with element {@code j + headDim/2}. */
    HALF_SPLIT
}
