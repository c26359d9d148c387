package io.qlora4j.memory.optim;

import java.util.Arrays;

/**
 * The optimizer state of one parameter tensor, as exported for a checkpoint. {@code bytes}, little-endian, sections
 * back to back in bitsandbytes' naming:
 * <ul>
 *   <li>{@link StateFormat#FP32}: {@code state1} (m, n float32), {@code state2} (v, n float32): 8n bytes;</li>
 *   <li>{@link StateFormat#DYNAMIC_8BIT}: {@code state1} (n signed-map codes), {@code state2} (n unsigned-map codes),
 *       {@code absmax1} (ceil(n/256) float32), {@code absmax2} (same): 2n + 8·ceil(n/256) bytes.</li>
 * </ul>
 *
 * @param format the format of this tensor's state (FP32 for tensors under 4096 elements even in an 8-bit optimizer)
 */
public record TensorState(String name, int elements, StateFormat format, byte[] bytes) {

    public TensorState {
        long expected = StateLayout.stateBytes(elements, format);
        if (bytes.length != expected) {
            throw new IllegalArgumentException("state of '" + name + "' (" + elements + " elements, " + format + ") is "
                    + bytes.length + " bytes, expected " + expected);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorState t && name.equals(t.name) && elements == t.elements && format == t.format
                && Arrays.equals(bytes, t.bytes);
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + elements) * 31 + Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "TensorState[" + name + ", " + elements + " elements, " + format + ", " + bytes.length + " bytes]";
    }
}
