package io.qlora4j.kernels;

/**
 * Precomputed RoPE rotations: for every position below {@link #maxPositions()} and every pair j below HS/2, the cos
 * and sin of the angle {@code position · inv_freq[j]}, plus the {@link RopeLayout} that says which two elements of a
 * head form pair j. Built once per model; read-only afterwards, so one table serves every thread and every layer.
 *
 * <p>Numerics follow HF {@code LlamaRotaryEmbedding} in float32 (QLORA-REFERENCE.md §8.3), step by step:
 * {@code inv_freq[j] = 1 / theta^(fl32(2j) / HS)} with a float32 power; the rope scaling is applied to inv_freq with
 * the same float32 operations as transformers' {@code modeling_rope_utils}; the angle is the float32 product
 * {@code fl32(position · inv_freq[j])} (the {@code inv_freq ⊗ positions} matmul; llama2.c's {@code pos * freq} is the
 * same product), and its cos/sin are rounded to float32. HF then casts cos/sin to the activation dtype (bf16 under
 * QLoRA); this table stays float32. Agreement with torch is within an ulp (torch's float pow/cos are not correctly
 * rounded either), not bit for bit.
 *
 * <p>Memory: 2 · maxPositions · HS/2 floats (8192 positions, HS 128: 4 MB).
 */
public final class RopeTable {

    private final int headSize;
    private final RopeLayout layout;
    private final int maxPositions;
    private final float[] inverseFrequencies;   // (HS/2)
    private final float[] cos;                  // (maxPositions, HS/2) row-major
    private final float[] sin;                  // (maxPositions, HS/2) row-major

    private RopeTable(int headSize, RopeLayout layout, int maxPositions, float[] inverseFrequencies) {
        this.headSize = headSize;
        this.layout = layout;
        this.maxPositions = maxPositions;
        this.inverseFrequencies = inverseFrequencies;
        int pairs = headSize / 2;
        this.cos = new float[Math.multiplyExact(maxPositions, pairs)];
        this.sin = new float[cos.length];
        for (int pos = 0; pos < maxPositions; pos++) {
            for (int j = 0; j < pairs; j++) {
                float angle = pos * inverseFrequencies[j];   // one fp32 product, as HF's float32 outer product
                cos[pos * pairs + j] = (float) Math.cos(angle);
                sin[pos * pairs + j] = (float) Math.sin(angle);
            }
        }
    }

    /**
     * @param headSize     HS, even
     * @param theta        {@code rope_theta} (10000 for Llama 1/2, 500000 for Llama 3)
     * @param scaling      the config's {@code rope_scaling}
     * @param layout       pair layout of the checkpoint's q/k projections
     * @param maxPositions positions [0, maxPositions) are tabulated; a larger position is rejected by the kernels
     */
    public static RopeTable build(int headSize, float theta, RopeScaling scaling, RopeLayout layout, int maxPositions) {
        Checks.checkPositive("RopeTable", "maxPositions", maxPositions);
        if (layout == null) throw new NullPointerException("RopeTable: layout is null");
        return new RopeTable(headSize, layout, maxPositions, inverseFrequencies(headSize, theta, scaling));
    }

    /**
     * The (HS/2) inverse frequencies after scaling, in float32 as transformers computes them
     * ({@code _compute_default_rope_parameters}, then {@code _compute_linear_scaling_rope_parameters} or
     * {@code _compute_llama3_parameters}).
     */
    public static float[] inverseFrequencies(int headSize, float theta, RopeScaling scaling) {
        if (headSize <= 0 || headSize % 2 != 0) {
            throw new IllegalArgumentException("RopeTable: headSize must be even and > 0, got " + headSize);
        }
        if (!(theta > 1f) || Float.isInfinite(theta)) {
            throw new IllegalArgumentException("RopeTable: theta must be finite and > 1, got " + theta);
        }
        if (scaling == null) throw new NullPointerException("RopeTable: scaling is null (use RopeScaling.NONE)");
        float[] inv = new float[headSize / 2];
        for (int j = 0; j < inv.length; j++) {
            float exponent = (float) (2 * j) / (float) headSize;   // arange(0, HS, 2).float() / HS
            inv[j] = 1f / (float) Math.pow(theta, exponent);         // 1.0 / (base ** exponent), float32
        }
        switch (scaling) {
            case RopeScaling.None _ -> {
            }
            case RopeScaling.Linear linear -> {
                for (int j = 0; j < inv.length; j++) inv[j] = inv[j] / linear.factor();
            }
            case RopeScaling.Llama3 llama3 -> applyLlama3(inv, llama3);
        }
        return inv;
    }

    /**
     * transformers {@code _compute_llama3_parameters}, operation by operation in float32. Python scalars meet float32
     * tensors as float32; {@code scalar / tensor} is {@code tensor.reciprocal() * scalar} in torch.
     */
    private static void applyLlama3(float[] inv, RopeScaling.Llama3 s) {
        float oldContext = s.originalMaxPositions();
        float lowFreqWavelen = (float) ((double) s.originalMaxPositions() / s.lowFreqFactor());
        float highFreqWavelen = (float) ((double) s.originalMaxPositions() / s.highFreqFactor());
        float twoPi = (float) (2 * Math.PI);
        float factorSpan = (float) ((double) s.highFreqFactor() - s.lowFreqFactor());
        for (int j = 0; j < inv.length; j++) {
            float wavelen = (1f / inv[j]) * twoPi;
            float llama = wavelen > lowFreqWavelen ? inv[j] / s.factor() : inv[j];
            boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            if (medium) {
                float smooth = ((1f / wavelen) * oldContext - s.lowFreqFactor()) / factorSpan;
                llama = (1f - smooth) * llama / s.factor() + smooth * llama;
            }
            inv[j] = llama;
        }
    }

    /**
     * Positions of B sequences of T rows each whose first row sits at {@code offset}: row b·T + t gets offset + t.
     * Training and prompts use offset 0; generation with a KV cache passes the number of cached tokens.
     */
    public static int[] sequentialPositions(int batch, int length, int offset) {
        Checks.checkPositive("sequentialPositions", "batch", batch);
        Checks.checkPositive("sequentialPositions", "length", length);
        Checks.checkNonNegative("sequentialPositions", "offset", offset);
        int[] positions = new int[Math.multiplyExact(batch, length)];
        for (int i = 0; i < positions.length; i++) positions[i] = offset + i % length;
        return positions;
    }

    /** HS. */
    public int headSize() {
        return headSize;
    }

    public RopeLayout layout() {
        return layout;
    }

    /** Positions [0, maxPositions) are tabulated. */
    public int maxPositions() {
        return maxPositions;
    }

    /** A copy of the (HS/2) scaled inverse frequencies. */
    public float[] inverseFrequencies() {
        return inverseFrequencies.clone();
    }

    /** cos(position · inv_freq[pair]) in float32. */
    public float cos(int position, int pair) {
        return cos[position * (headSize / 2) + pair];
    }

    /** sin(position · inv_freq[pair]) in float32. */
    public float sin(int position, int pair) {
        return sin[position * (headSize / 2) + pair];
    }
}
