package io.qlora4j.memory.optim;

import io.qlora4j.kernels.AdamW;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Where each tensor's state lies in the optimizer's one paged buffer, and which tensors are updated together.
 *
 * <p>Sections (state1, state2, then absmax1, absmax2 for 8-bit) start at multiples of {@value #ALIGN} bytes, so with
 * pages a multiple of 4096 bytes a block of 256 codes, a float and an absmax never straddle a page. Placement keeps the
 * pages of different update groups apart: a tensor whose state is at least a page long starts on a page boundary and
 * the next tensor starts on the following one; smaller tensors are packed into a page as long as they fit whole.
 * Tensors that share a page form one group, pinned and updated together. That is what makes a page's version stamp
 * honest: a page written at step t holds only state already updated at step t.
 */
final class StateLayout {
    static final int ALIGN = 256;
    /** bitsandbytes' {@code min_8bit_size}: smaller tensors keep 32-bit state in an 8-bit optimizer. */
    static final int MIN_8BIT_ELEMENTS = AdamW.MIN_8BIT_SIZE;

    /**
     * One tensor's sections, as byte offsets in the buffer.
     *
     * @param eightBit whether its state is 8-bit blockwise (else float32)
     * @param state1   m: n float32, or n signed-map codes
     * @param state2   v: n float32, or n unsigned-map codes
     * @param absmax1  8-bit only: ceil(n/256) float32 absmax of m
     * @param absmax2  8-bit only: ceil(n/256) float32 absmax of v
     * @param end      end of the tensor's last section
     */
    record Tensor(int index, String name, int elements, boolean eightBit, long state1, long state2, long absmax1,
                  long absmax2, long end) {
        StateFormat format() {
            return eightBit ? StateFormat.DYNAMIC_8BIT : StateFormat.FP32;
        }

        int blocks() {
            return Math.ceilDiv(elements, AdamW.BLOCK_SIZE_8BIT);
        }
    }

    /** Tensors {@code first..last} whose state shares pages: {@code [offset, offset + length)} of the buffer. */
    record Group(int first, int last, long offset, long length) {
    }

    final List<Tensor> tensors;
    final List<Group> groups;
    final long bufferBytes;
    final int pageBytes;

    private StateLayout(List<Tensor> tensors, List<Group> groups, long bufferBytes, int pageBytes) {
        this.tensors = tensors;
        this.groups = groups;
        this.bufferBytes = bufferBytes;
        this.pageBytes = pageBytes;
    }

    static StateLayout of(List<ParamSpec> params, StateFormat format, int pageBytes) {
        if (params.isEmpty()) throw new IllegalArgumentException("the optimizer has no parameters");
        Set<String> names = new HashSet<>();
        List<Tensor> tensors = new ArrayList<>(params.size());
        long pos = 0;
        long end = 0;
        for (ParamSpec p : params) {
            if (!names.add(p.name())) throw new IllegalArgumentException("parameter name '" + p.name() + "' appears twice");
            int n = p.elements();
            boolean eight = format == StateFormat.DYNAMIC_8BIT && n >= MIN_8BIT_ELEMENTS;
            long moment = eight ? n : 4L * n;
            long absmax = eight ? 4L * Math.ceilDiv(n, AdamW.BLOCK_SIZE_8BIT) : 0;
            long span = 2 * align(moment) + 2 * align(absmax);
            long start;
            if (span >= pageBytes) {
                start = roundUp(pos, pageBytes);
                pos = roundUp(start + span, pageBytes);
            } else {
                start = pos % pageBytes + span <= pageBytes ? pos : roundUp(pos, pageBytes);
                pos = start + span;
            }
            long state2 = start + align(moment);
            long absmax1 = state2 + align(moment);
            long absmax2 = absmax1 + align(absmax);
            tensors.add(new Tensor(tensors.size(), p.name(), n, eight, start, state2, absmax1, absmax2, start + span));
            end = start + span;
        }
        List<Group> groups = new ArrayList<>();
        int first = 0;
        for (int i = 1; i <= tensors.size(); i++) {
            boolean sharesPage = i < tensors.size()
                    && tensors.get(i).state1() / pageBytes <= (tensors.get(i - 1).end() - 1) / pageBytes;
            if (!sharesPage) {
                long offset = tensors.get(first).state1();
                groups.add(new Group(first, i - 1, offset, tensors.get(i - 1).end() - offset));
                first = i;
            }
        }
        return new StateLayout(List.copyOf(tensors), List.copyOf(groups), end, pageBytes);
    }

    /** State bytes of one tensor without alignment padding (the exported size). */
    static long stateBytes(int elements, StateFormat format) {
        boolean eight = format == StateFormat.DYNAMIC_8BIT;
        return eight ? 2L * elements + 8L * Math.ceilDiv(elements, AdamW.BLOCK_SIZE_8BIT) : 8L * elements;
    }

    /** State bytes of all tensors without padding: what the optimizer actually stores. */
    long stateBytes() {
        long sum = 0;
        for (Tensor t : tensors) sum += stateBytes(t.elements(), t.format());
        return sum;
    }

    /** Pages of the largest group: the most the update pins at once. */
    long maxGroupPages() {
        long max = 0;
        for (Group g : groups) max = Math.max(max, (g.offset() + g.length() - 1) / pageBytes - g.offset() / pageBytes + 1);
        return max;
    }

    private static long align(long bytes) {
        return roundUp(bytes, ALIGN);
    }

    private static long roundUp(long value, long multiple) {
        return Math.ceilDiv(value, multiple) * multiple;
    }
}
