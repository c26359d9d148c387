package io.qlora4j.kernels.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

import java.util.ArrayList;
import java.util.List;

/**
 * One kernel launch: the arguments in the order of the kernel's parameter list, then a 1-D grid. Launches are
 * synchronous (the context is synchronized after each), so an error of the kernel itself is reported here, with the
 * kernel name, the problem shape and the launch shape, rather than at some later call.
 */
final class Launch {

    /** Threads per block of every 1-D launch (the rmsnorm kernels' shared-memory reduction is sized for it). */
    static final int THREADS = 256;

    private final CudaKernel kernel;
    private final String shape;
    private final List<Pointer> args = new ArrayList<>();
    private final StringBuilder kinds = new StringBuilder();   // CudaKernel.params() notation of the arguments so far

    private Launch(CudaKernel kernel, String shape) {
        this.kernel = kernel;
        this.shape = shape;
    }

    /** @param shape the problem shape for error messages, e.g. "M=512 N=4096 K=4096" */
    static Launch of(CudaKernel kernel, String shape) {
        return new Launch(kernel, shape);
    }

    Launch buffer(DeviceBuffer b) {
        return add('p', Pointer.to(b.pointer()));
    }

    /** A null device pointer (an optional argument that is absent). */
    Launch none() {
        return add('p', Pointer.to(new CUdeviceptr()));
    }

    Launch i32(int v) {
        return add('i', Pointer.to(new int[]{v}));
    }

    Launch i64(long v) {
        return add('l', Pointer.to(new long[]{v}));
    }

    Launch f32(float v) {
        return add('f', Pointer.to(new float[]{v}));
    }

    private Launch add(char kind, Pointer arg) {
        kinds.append(kind);
        args.add(arg);
        return this;
    }

    /** Launches one thread per element of {@code work} elements (one block per {@link #THREADS}). */
    void perElement(CudaDevice device, long work) {
        run(device, Math.toIntExact(Math.max(1, (work + THREADS - 1) / THREADS)));
    }

    /**
     * Launches {@code blocks} blocks of {@link #THREADS} threads and waits for them.
     *
     * @throws IllegalStateException before touching the device when the arguments do not match the kernel's parameters
     */
    void run(CudaDevice device, int blocks) {
        if (!kinds.toString().equals(kernel.params())) {
            throw new IllegalStateException("kernel " + kernel.symbol() + " takes parameters (" + kernel.params()
                    + ") but the launch passes (" + kinds + "): p pointer, i int, l int64, f float");
        }
        String where = "kernel " + kernel.symbol() + " (" + shape + ") grid (" + blocks + ",1,1) block (" + THREADS + ",1,1)";
        CudaErrors.check(JCudaDriver.cuLaunchKernel(device.function(kernel), blocks, 1, 1, THREADS, 1, 1, 0, null,
                Pointer.to(args.toArray(Pointer[]::new)), null), "launch of " + where);
        device.synchronize(where);
    }
}
