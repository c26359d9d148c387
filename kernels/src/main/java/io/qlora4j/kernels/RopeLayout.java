package io.qlora4j.kernels;

/**
 * Which elements of a head vector RoPE rotates together (QLORA-REFERENCE.md §8.3). Both rotate pair j by the angle
 * {@code position · inv_freq[j]}; they differ only in where the two elements of pair j sit. HF's checkpoint converter
 * permutes the q/k projection rows so that HALF_SPLIT on an HF checkpoint equals INTERLEAVED on the Meta original.
 */
public enum RopeLayout {
    /** HF {@code rotate_half}: element j pairs with element j + HS/2 (HF checkpoints). */
    HALF_SPLIT,
    /** Meta / llama2.c {@code run.c}: elements (2j, 2j+1) form a pair (Meta and llama2.c checkpoints). */
    INTERLEAVED;

    /** Index within the head of the first element of pair j, for head size {@code headSize}. */
    public int first(int j, int headSize) {
        return this == HALF_SPLIT ? j : 2 * j;
    }

    /** Index within the head of the second element of pair j. */
    public int second(int j, int headSize) {
        return this == HALF_SPLIT ? j + headSize / 2 : 2 * j + 1;
    }
}
