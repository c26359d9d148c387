package io.qlora4j.model.compute;

import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.lora.DropoutMask;
import io.qlora4j.model.lora.LoraAdapter;
import io.qlora4j.model.lora.LoraAdapters;

/**
 * The LoRA adapters a pass runs with, and the dropout of this pass (training only): which optimizer step it is and
 * which dataset example each batch row came from, so that dropout masks are a function of the data, not of the batching.
 *
 * @param adapters       the adapters, or null for the bare base model
 * @param dropout        the dropout of this pass ({@link DropoutMask#NONE} outside training)
 * @param step           optimizer step (part of the dropout key)
 * @param exampleOffsets (B) dataset offset of each sequence (part of the dropout key)
 */
public record AdapterContext(LoraAdapters adapters, DropoutMask dropout, long step, long[] exampleOffsets) {

    /** The bare base model (no adapters). */
    public static final AdapterContext NONE = new AdapterContext(null, DropoutMask.NONE, 0, new long[0]);

    /** Adapters without dropout (inference, evaluation). */
    public static AdapterContext inference(LoraAdapters adapters) {
        return new AdapterContext(adapters, DropoutMask.NONE, 0, new long[0]);
    }

    LoraAdapter adapter(int layer, LinearLayerName name) {
        return adapters == null ? null : adapters.get(layer, name);
    }

    float scaling() {
        return adapters.config().scaling();
    }

    int rank() {
        return adapters == null ? 0 : adapters.config().rank();
    }

    boolean[] adaptedProjections() {
        boolean[] a = new boolean[LinearLayerName.values().length];
        if (adapters != null) for (LinearLayerName n : adapters.config().targets()) a[n.ordinal()] = true;
        return a;
    }

    /**
     * u = dropout(x) for R rows of {@code width} features: {@code x} itself when dropout is off, else the masked and
     * rescaled copy written to {@code scratch}. Row r is position {@code r % length} of sequence {@code r / length}.
     */
    float[] dropped(float[] x, float[] scratch, int rows, int width, int length, int layer, LinearLayerName name) {
        if (!dropout.active()) return x;
        float scale = dropout.keepScale();
        for (int r = 0; r < rows; r++) {
            long key = dropout.rowKey(step, exampleOffsets[r / length], r % length, layer, name.ordinal());
            for (int j = 0; j < width; j++) {
                scratch[r * width + j] = dropout.keep(key, j) ? x[r * width + j] * scale : 0f;
            }
        }
        return scratch;
    }

    /** dx += du ⊙ mask·scale (the backward of {@link #dropped}); plain dx += du without dropout. */
    void addDropoutBackward(float[] dx, float[] du, int rows, int width, int length, int layer, LinearLayerName name) {
        float scale = dropout.keepScale();
        for (int r = 0; r < rows; r++) {
            long key = dropout.active() ? dropout.rowKey(step, exampleOffsets[r / length], r % length, layer, name.ordinal()) : 0;
            for (int j = 0; j < width; j++) {
                int i = r * width + j;
                if (!dropout.active()) dx[i] += du[i];
                else if (dropout.keep(key, j)) dx[i] += du[i] * scale;
            }
        }
    }
}
