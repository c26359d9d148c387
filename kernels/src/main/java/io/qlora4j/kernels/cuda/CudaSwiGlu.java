package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.SwiGlu;
import io.qlora4j.kernels.cpu.ReferenceSwiGlu;

/**
 * {@link SwiGlu} on the GPU, elementwise in the reference's operation order with CUDA's {@code expf} (within 2 ulps of
 * exp; the contract allows a few ulps). Aliasing as the contract allows: the inputs are copied to the device first.
 * Operands are copied per call (see {@link CudaMatmul}).
 */
public final class CudaSwiGlu implements SwiGlu {

    private final CudaDevice device;

    public CudaSwiGlu(CudaDevice device) {
        this.device = device;
    }

    @Override
    public void swigluForward(float[] out, float[] gate, float[] up, int rows, int hidden) {
        int n = ReferenceSwiGlu.check("swigluForward", rows, hidden, out, "out", gate, up, null);
        device.makeCurrent();
        try (DeviceBuffer g = DeviceBuffer.of("gate", gate, 0, n);
             DeviceBuffer u = DeviceBuffer.of("up", up, 0, n);
             DeviceBuffer o = DeviceBuffer.floats("out", n)) {
            Launch.of(CudaKernel.SWIGLU_FORWARD, "rows=" + rows + " hidden=" + hidden)
                    .buffer(o).buffer(g).buffer(u).i32(n).perElement(device, n);
            o.download(out);
        }
    }

    @Override
    public void swigluBackward(float[] dGate, float[] dUp, float[] dOut, float[] gate, float[] up, int rows, int hidden) {
        int n = ReferenceSwiGlu.check("swigluBackward", rows, hidden, dGate, "dGate", gate, up, dOut);
        io.qlora4j.kernels.Checks.checkLength("swigluBackward", "dUp", dUp, n, "(rows, hidden) row-major");
        if (dGate == dUp) throw new IllegalArgumentException("swigluBackward: dGate and dUp must be different arrays");
        device.makeCurrent();
        try (DeviceBuffer d = DeviceBuffer.of("dOut", dOut, 0, n);
             DeviceBuffer g = DeviceBuffer.of("gate", gate, 0, n);
             DeviceBuffer u = DeviceBuffer.of("up", up, 0, n);
             DeviceBuffer gGate = DeviceBuffer.floats("dGate", n);
             DeviceBuffer gUp = DeviceBuffer.floats("dUp", n)) {
            Launch.of(CudaKernel.SWIGLU_BACKWARD, "rows=" + rows + " hidden=" + hidden)
                    .buffer(gGate).buffer(gUp).buffer(d).buffer(g).buffer(u).i32(n).perElement(device, n);
            gGate.download(dGate);
            gUp.download(dUp);
        }
    }
}
