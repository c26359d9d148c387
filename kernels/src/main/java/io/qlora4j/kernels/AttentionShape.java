package io.qlora4j.kernels;

/**
 * The dimensions of one causal grouped-query attention call. Query row t of sequence b sits at absolute position
 * {@code queryOffset + t} and attends the keys at positions 0..queryOffset+t of the same sequence.
 * <ul>
 *   <li>training and prompt processing: {@code queryOffset = 0}, {@code keyLength = queryLength};
 *   <li>generation with a KV cache: {@code queryLength} new tokens, {@code queryOffset} = tokens already cached.
 * </ul>
 * {@code keyLength} is the number of key/value rows per sequence in the k and v arrays; it may exceed
 * {@code queryOffset + queryLength} (a cache preallocated for the maximum length): rows past the last attended
 * position are never read.
 *
 * @param batch       B, sequences
 * @param queryLength Tq, query rows per sequence
 * @param keyLength   Tk, key/value rows per sequence, at least queryOffset + queryLength
 * @param queryOffset position of the first query row
 * @param heads       NH, query heads
 * @param kvHeads     NKV, key/value heads; divides NH, query head h reads KV head h / (NH/NKV) (HF {@code repeat_kv})
 * @param headSize    HS
 */
public record AttentionShape(int batch, int queryLength, int keyLength, int queryOffset, int heads, int kvHeads,
                             int headSize) {

    public AttentionShape {
        String where = "AttentionShape";
        Checks.checkPositive(where, "batch", batch);
        Checks.checkPositive(where, "queryLength", queryLength);
        Checks.checkPositive(where, "keyLength", keyLength);
        Checks.checkNonNegative(where, "queryOffset", queryOffset);
        Checks.checkPositive(where, "heads", heads);
        Checks.checkPositive(where, "kvHeads", kvHeads);
        Checks.checkPositive(where, "headSize", headSize);
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(where + ": heads (" + heads + ") must be a multiple of kvHeads ("
                    + kvHeads + ")");
        }
        if ((long) queryOffset + queryLength > keyLength) {
            throw new IllegalArgumentException(where + ": queryOffset + queryLength = " + queryOffset + " + "
                    + queryLength + " exceeds keyLength " + keyLength + ": the last query would attend keys that are not there");
        }
        if ((long) batch * heads * queryLength * keyLength > Integer.MAX_VALUE
                || (long) batch * keyLength * kvHeads * headSize > Integer.MAX_VALUE
                || (long) batch * queryLength * heads * headSize > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(where + ": " + this + " needs arrays of more than 2^31 elements; split the batch");
        }
    }

    /** Training / prompt shape: {@code queryOffset = 0}, {@code keyLength = queryLength = length}. */
    public static AttentionShape causal(int batch, int length, int heads, int kvHeads, int headSize) {
        return new AttentionShape(batch, length, length, 0, heads, kvHeads, headSize);
    }

    /** Elements of q, out and dOut: (B·Tq, NH·HS). */
    public int querySize() {
        return batch * queryLength * heads * headSize;
    }

    /** Elements of k and v: (B·Tk, NKV·HS). */
    public int keySize() {
        return batch * keyLength * kvHeads * headSize;
    }

    /** Elements of the saved probabilities: (B, NH, Tq, Tk). */
    public int probsSize() {
        return batch * heads * queryLength * keyLength;
    }
}
