package io.qlora4j.model.lora;

/**
 * One LoRA adapter on a linear layer W (out × in): y = W·x + (alpha/r)·B·A·dropout(x) (Hu et al.; PEFT
 * {@code lora.Linear}). A is initialised Kaiming-uniform with a = √5, i.e. U(−1/√in, 1/√in) as PEFT does; B is zero,
 * so a fresh adapter is an exact no-op. Holds its gradients beside its values.
 *
 * @param a     (r, in) lora_A.weight, row-major
 * @param b     (out, r) lora_B.weight, row-major
 * @param gradA (r, in) dA, accumulated by backward
 * @param gradB (out, r) dB, accumulated by backward
 */
public record LoraAdapter(int rank, int in, int out, float[] a, float[] b, float[] gradA, float[] gradB) {

    public LoraAdapter {
        if (a.length != rank * in || b.length != out * rank || gradA.length != a.length || gradB.length != b.length) {
            throw new IllegalArgumentException("LoRA adapter (r=" + rank + ", in=" + in + ", out=" + out
                    + ") needs A of " + rank * in + " and B of " + out * rank + " values");
        }
    }

    /** A zero adapter of the given shape (values to be filled by initialisation or loading). */
    public static LoraAdapter zeros(int rank, int in, int out) {
        return new LoraAdapter(rank, in, out, new float[rank * in], new float[out * rank], new float[rank * in], new float[out * rank]);
    }

    /** PEFT's init: A ~ U(−1/√in, 1/√in) from {@code rnd}, B = 0. */
    public void initialize(java.util.random.RandomGenerator rnd) {
        float bound = (float) (1.0 / Math.sqrt(in));
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextDouble(-bound, bound);
        java.util.Arrays.fill(b, 0f);
    }

    public void zeroGrad() {
        java.util.Arrays.fill(gradA, 0f);
        java.util.Arrays.fill(gradB, 0f);
    }

    /** Number of trainable parameters r·(in + out). */
    public long parameters() {
        return (long) rank * (in + out);
    }
}
