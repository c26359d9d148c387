package io.qlora4j.kernels.cuda;

import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/**
 * One device allocation ({@code cuMemAlloc}), owned by whoever created it and freed by {@link #close()}: ops allocate
 * their buffers in try-with-resources, so nothing outlives a call. Not managed memory.
 */
final class DeviceBuffer implements AutoCloseable {

    private final CUdeviceptr pointer = new CUdeviceptr();
    private final long bytes;
    private final String name;

    private DeviceBuffer(String name, long bytes) {
        this.name = name;
        this.bytes = bytes;
        // cuMemAlloc rejects 0 bytes; an empty buffer is never read, one byte keeps the pointer valid
        CudaErrors.check(JCudaDriver.cuMemAlloc(pointer, Math.max(1, bytes)), "cuMemAlloc(" + name + ", " + bytes + " bytes)");
    }

    /** Uninitialized device memory for {@code count} floats. */
    static DeviceBuffer floats(String name, long count) {
        return new DeviceBuffer(name, count * Sizeof.FLOAT);
    }

    /** Uninitialized device memory for {@code count} doubles. */
    static DeviceBuffer doubles(String name, long count) {
        return new DeviceBuffer(name, count * Sizeof.DOUBLE);
    }

    /** A device copy of {@code src[off, off + count)}. */
    static DeviceBuffer of(String name, float[] src, int off, int count) {
        DeviceBuffer b = floats(name, count);
        b.upload(Pointer.to(src).withByteOffset((long) off * Sizeof.FLOAT));
        return b;
    }

    /** A device copy of the whole array. */
    static DeviceBuffer of(String name, float[] src) {
        return of(name, src, 0, src.length);
    }

    /** A device copy of the whole array. */
    static DeviceBuffer of(String name, byte[] src) {
        return of(name, src, 0, src.length);
    }

    /** A device copy of {@code src[off, off + count)}. */
    static DeviceBuffer of(String name, byte[] src, int off, int count) {
        DeviceBuffer b = new DeviceBuffer(name, count);
        b.upload(Pointer.to(src).withByteOffset(off));
        return b;
    }

    /** A device copy of {@code src[0, count)}. */
    static DeviceBuffer of(String name, int[] src, int count) {
        DeviceBuffer b = new DeviceBuffer(name, (long) count * Sizeof.INT);
        b.upload(Pointer.to(src));
        return b;
    }

    private void upload(Pointer host) {
        if (bytes > 0) CudaErrors.check(JCudaDriver.cuMemcpyHtoD(pointer, host, bytes), "cuMemcpyHtoD(" + name + ", " + bytes + " bytes)");
    }

    /** Copies the buffer (of floats) back into {@code dst[off ..]}. */
    void download(float[] dst, int off) {
        if (bytes > 0) {
            CudaErrors.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(dst).withByteOffset((long) off * Sizeof.FLOAT), pointer, bytes),
                    "cuMemcpyDtoH(" + name + ", " + bytes + " bytes)");
        }
    }

    /** Copies the whole buffer back into {@code dst[0 ..]}. */
    void download(float[] dst) {
        download(dst, 0);
    }

    /** Copies the buffer (of bytes) back into {@code dst[off ..]}. */
    void download(byte[] dst, int off) {
        if (bytes > 0) {
            CudaErrors.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(dst).withByteOffset(off), pointer, bytes),
                    "cuMemcpyDtoH(" + name + ", " + bytes + " bytes)");
        }
    }

    /** Copies the buffer (of doubles) back into {@code dst[0 ..]}. */
    void download(double[] dst) {
        if (bytes > 0) CudaErrors.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(dst), pointer, bytes), "cuMemcpyDtoH(" + name + ", " + bytes + " bytes)");
    }

    /** The device pointer, for kernel arguments. */
    CUdeviceptr pointer() {
        return pointer;
    }

    @Override
    public void close() {
        CudaErrors.check(JCudaDriver.cuMemFree(pointer), "cuMemFree(" + name + ")");
    }
}
