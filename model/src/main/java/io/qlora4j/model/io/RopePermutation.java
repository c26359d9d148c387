package io.qlora4j.model.io;

/**
 * Reorders q/k projection rows between the two {@link RopeLayout}s, as Hugging Face's
 * {@code convert_llama_weights_to_hf.py} {@code permute} does:
 * {@code W.view(nHeads, headDim/2, 2, in).transpose(1, 2).reshape(nHeads*headDim, in)}.
 * Within each head, half-split row {@code j} is interleaved row {@code 2j} and half-split row {@code j + headDim/2} is
 * interleaved row {@code 2j+1}. For {@code k_proj} pass the number of key/value heads.
 */
public final class RopePermutation {
    private RopePermutation() {
    }

    /**
     * @param weight (nHeads·headDim, inFeatures) row-major, rows in {@link RopeLayout#INTERLEAVED} order
     * @return a new (nHeads·headDim, inFeatures) row-major array with rows in {@link RopeLayout#HALF_SPLIT} order
     */
    public static float[] interleavedToHalfSplit(float[] weight, int nHeads, int headDim, int inFeatures) {
        return permute(weight, nHeads, headDim, inFeatures, true);
    }

    /** The inverse of {@link #interleavedToHalfSplit} (llama2.c's {@code permute_reverse}). */
    public static float[] halfSplitToInterleaved(float[] weight, int nHeads, int headDim, int inFeatures) {
        return permute(weight, nHeads, headDim, inFeatures, false);
    }

    private static float[] permute(float[] weight, int nHeads, int headDim, int inFeatures, boolean toHalfSplit) {
        if (nHeads <= 0 || headDim <= 0 || headDim % 2 != 0 || inFeatures <= 0) {
            throw new IllegalArgumentException("need nHeads > 0, an even headDim > 0 and inFeatures > 0; got nHeads="
                    + nHeads + " headDim=" + headDim + " inFeatures=" + inFeatures);
        }
        if ((long) nHeads * headDim * inFeatures != weight.length) {
            throw new IllegalArgumentException("weight has " + weight.length
                    + " elements, expected nHeads*headDim*inFeatures = " + nHeads + "*" + headDim + "*" + inFeatures);
        }
        float[] out = new float[weight.length];
        int half = headDim / 2;
        for (int h = 0; h < nHeads; h++) {
            for (int j = 0; j < half; j++) {
                for (int parity = 0; parity < 2; parity++) {
                    int interleaved = h * headDim + 2 * j + parity;
                    int halfSplit = h * headDim + parity * half + j;
                    int from = toHalfSplit ? interleaved : halfSplit;
                    int to = toHalfSplit ? halfSplit : interleaved;
                    System.arraycopy(weight, from * inFeatures, out, to * inFeatures, inFeatures);
                }
            }
        }
        return out;
    }
}
