package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.Rope;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.kernels.RopeTable;
import io.qlora4j.kernels.cpu.ReferenceRope;

/**
 * {@link Rope} on the GPU (kernel {@code rope_rotate}), bit-identical to {@link ReferenceRope}: the same two products and
 * one sum per element. The cos/sin values of each row's position are gathered from the {@link RopeTable} on the host,
 * (rows, HS/2) each, and copied with the activations (operands are copied per call, see {@link CudaMatmul}).
 */
public final class CudaRope implements Rope {

    private final CudaDevice device;

    public CudaRope(CudaDevice device) {
        this.device = device;
    }

    @Override
    public void ropeForward(float[] x, int[] positions, int rows, int heads, RopeTable table) {
        ReferenceRope.check("ropeForward", x, "x", positions, rows, heads, table);
        rotate(x, positions, rows, heads, table, 1f);
    }

    @Override
    public void ropeBackward(float[] dX, int[] positions, int rows, int heads, RopeTable table) {
        ReferenceRope.check("ropeBackward", dX, "dX", positions, rows, heads, table);
        rotate(dX, positions, rows, heads, table, -1f);
    }

    private void rotate(float[] x, int[] positions, int rows, int heads, RopeTable table, float direction) {
        int hs = table.headSize(), pairs = hs / 2;
        float[] cos = new float[rows * pairs];   // (rows, HS/2)
        float[] sin = new float[rows * pairs];   // (rows, HS/2)
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < pairs; j++) {
                cos[r * pairs + j] = table.cos(positions[r], j);
                sin[r * pairs + j] = table.sin(positions[r], j);
            }
        }
        int n = rows * heads * hs;
        device.makeCurrent();
        try (DeviceBuffer dx = DeviceBuffer.of("x", x, 0, n);
             DeviceBuffer dCos = DeviceBuffer.of("cos", cos);
             DeviceBuffer dSin = DeviceBuffer.of("sin", sin)) {
            Launch.of(CudaKernel.ROPE_ROTATE, "rows=" + rows + " heads=" + heads + " HS=" + hs + " " + table.layout())
                    .buffer(dx).buffer(dCos).buffer(dSin).i32(rows).i32(heads).i32(hs)
                    .i32(table.layout() == RopeLayout.INTERLEAVED ? 1 : 0).f32(direction)
                    .perElement(device, (long) rows * heads * pairs);
            dx.download(x);
        }
    }
}
