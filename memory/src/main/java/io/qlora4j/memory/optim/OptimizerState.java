package io.qlora4j.memory.optim;

import java.util.List;

/**
 * Everything needed to restore a {@link PagedAdamW} bit for bit: its step count and the state of every tensor, in
 * parameter order. A checkpoint writer can store each {@link TensorState} as a {@code U8} tensor.
 */
public record OptimizerState(long step, List<TensorState> tensors) {
    public OptimizerState {
        if (step < 0) throw new IllegalArgumentException("optimizer step " + step + " is negative");
        tensors = List.copyOf(tensors);
    }
}
