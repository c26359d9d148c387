package io.qlora4j.kernels.cuda;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The CUDA device the GPU backend runs on (device 0, its primary context) and the module of qlora4j's kernels, loaded
 * from the fatbin resource the {@code nvcc} Maven profile builds from {@code src/main/cuda/*.cu}.
 *
 * <p>{@link #probe()} decides once per JVM whether CUDA can be used and says why not, without ever throwing: libcuda.so.1
 * is looked up through FFM first (so a machine without a driver never extracts JCuda's native library), then the kernel
 * resource, then JCuda's driver library (a {@link LinkageError} there is caught once and cached: JCuda's class
 * initializer fails only the first time, later uses throw {@code NoClassDefFoundError}), then {@code cuInit} and the
 * device count and compute capability, and last opening the device (primary context, kernel module): whatever fails
 * first is the reason. {@link #get()} returns the opened device or throws with that reason.
 *
 * <p>Not thread-affine: every entry point makes the primary context current on the calling thread first.
 * Not a multi-GPU abstraction: one device, one context, synchronous launches.
 */
public final class CudaDevice {

    /** The fatbin of src/main/cuda/qlora4j_kernels.cu, next to this class. */
    static final String MODULE_RESOURCE = "qlora4j_kernels.fatbin";
    /** The lowest compute capability the fatbin has code for (sm_80 SASS; sm_90 SASS; compute_90 PTX for newer). */
    static final int MIN_COMPUTE_CAPABILITY = 80;

    /**
     * The outcome of the probe.
     *
     * @param available whether {@link #get()} will succeed
     * @param reason    the device ("NVIDIA H100 80GB HBM3, compute capability 9.0, ...") or why CUDA cannot be used
     */
    public record Probe(boolean available, String reason) {
    }

    /** The probe's outcome and, when available, the opened device: both decided once. */
    record State(Probe probe, CudaDevice device) {
        static State unavailable(String reason) {
            return new State(new Probe(false, reason), null);
        }
    }

    private static volatile State state;

    private final CUcontext context;
    private final CUmodule module;
    private final String description;
    private final Map<String, CUfunction> functions = new ConcurrentHashMap<>();

    private CudaDevice(CUcontext context, CUmodule module, String description) {
        this.context = context;
        this.module = module;
        this.description = description;
    }

    /**
     * Whether CUDA can be used, and the device or the reason it cannot; computed once, never throws. Available means the
     * device was opened and the kernel module loaded, so a fatbin the driver cannot load is a reason, not a later error.
     */
    public static Probe probe() {
        return state().probe();
    }

    /** The device (primary context retained, kernel module loaded), or the probe's reason as an exception. */
    public static CudaDevice get() {
        State s = state();
        if (s.device() == null) throw new IllegalStateException("CUDA backend unavailable: " + s.probe().reason());
        return s.device();
    }

    private static State state() {
        State s = state;
        if (s == null) {
            synchronized (CudaDevice.class) {
                if (state == null) state = runProbe();
                s = state;
            }
        }
        return s;
    }

    @SuppressWarnings("restricted")   // a library lookup only, no downcall: loading libcuda is what is being probed
    private static State runProbe() {
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup("libcuda.so.1", arena);
        } catch (IllegalArgumentException e) {
            return State.unavailable("libcuda.so.1 not found (no NVIDIA driver on this machine)");
        }
        if (CudaDevice.class.getResource(MODULE_RESOURCE) == null) {
            return State.unavailable("CUDA kernels not built: resource io/qlora4j/kernels/cuda/" + MODULE_RESOURCE
                    + " is missing (the kernels module was built without nvcc; build with -Pnvcc -Dnvcc=/path/to/nvcc)");
        }
        return probeDriver();
    }

    /**
     * The driver part of the probe, through JCuda: a {@link LinkageError} (JCuda's native library cannot be loaded, or
     * its class failed to initialize on an earlier call) or a driver error becomes the reason; else device 0 is opened.
     */
    static State probeDriver() {
        try {
            int init = JCudaDriver.cuInit(0);
            if (init != CUresult.CUDA_SUCCESS) return State.unavailable("cuInit failed: " + CudaErrors.name(init));
            int[] count = new int[1];
            int r = JCudaDriver.cuDeviceGetCount(count);
            if (r != CUresult.CUDA_SUCCESS) return State.unavailable("cuDeviceGetCount failed: " + CudaErrors.name(r));
            if (count[0] == 0) return State.unavailable("the NVIDIA driver reports no CUDA device");
            CUdevice dev = new CUdevice();
            CudaErrors.check(JCudaDriver.cuDeviceGet(dev, 0), "cuDeviceGet(0)");
            String description = describe(dev);
            int cc = 10 * attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
                    + attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
            if (cc < MIN_COMPUTE_CAPABILITY) {
                return State.unavailable(description + ": compute capability below 8.0; the kernels are built for sm_80+");
            }
            CudaDevice device = open(dev, description);
            return new State(new Probe(true, description), device);
        } catch (LinkageError e) {
            return State.unavailable("JCuda's driver library could not be loaded: " + e);
        } catch (CudaException e) {
            return State.unavailable(e.getMessage());
        }
    }

    /**
     * Retains the primary context and loads the fatbin. A driver older than the nvcc that built the fatbin may refuse
     * it (CUDA_ERROR_NO_BINARY_FOR_GPU, CUDA_ERROR_UNSUPPORTED_PTX_VERSION): the error says so with a hint.
     */
    private static CudaDevice open(CUdevice dev, String description) {
        CUcontext ctx = new CUcontext();
        CudaErrors.check(JCudaDriver.cuDevicePrimaryCtxRetain(ctx, dev), "cuDevicePrimaryCtxRetain");
        CudaErrors.check(JCudaDriver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
        CUmodule module = new CUmodule();
        CudaErrors.check(JCudaDriver.cuModuleLoadData(module, readModule()), "cuModuleLoadData(" + MODULE_RESOURCE
                + ") on " + description + " (the fatbin holds sm_80 and sm_90 code and compute_90 PTX from the nvcc of"
                + " the build; an older driver may need the kernels rebuilt with an nvcc no newer than the driver)");
        return new CudaDevice(ctx, module, description);
    }

    private static byte[] readModule() {
        try (InputStream in = CudaDevice.class.getResourceAsStream(MODULE_RESOURCE)) {
            if (in == null) throw new IllegalStateException("resource " + MODULE_RESOURCE + " vanished after the probe");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading CUDA module " + MODULE_RESOURCE, e);
        }
    }

    private static String describe(CUdevice dev) {
        byte[] name = new byte[256];
        CudaErrors.check(JCudaDriver.cuDeviceGetName(name, name.length, dev), "cuDeviceGetName");
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        long[] total = new long[1];
        CudaErrors.check(JCudaDriver.cuDeviceTotalMem(total, dev), "cuDeviceTotalMem");
        int[] driver = new int[1];
        CudaErrors.check(JCudaDriver.cuDriverGetVersion(driver), "cuDriverGetVersion");
        return String.format("%s, compute capability %d.%d, %d MiB, driver API %d.%d",
                new String(name, 0, len, java.nio.charset.StandardCharsets.US_ASCII),
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
                total[0] >> 20, driver[0] / 1000, driver[0] % 1000 / 10);
    }

    private static int attribute(CUdevice dev, int attribute) {
        int[] value = new int[1];
        CudaErrors.check(JCudaDriver.cuDeviceGetAttribute(value, attribute, dev), "cuDeviceGetAttribute(" + attribute + ")");
        return value[0];
    }

    /** Makes this device's primary context current on the calling thread (every op calls it first). */
    void makeCurrent() {
        CudaErrors.check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /** A kernel of the module by its extern "C" name (one of {@link CudaKernel}). */
    CUfunction function(CudaKernel kernel) {
        return functions.computeIfAbsent(kernel.symbol(), name -> {
            CUfunction f = new CUfunction();
            CudaErrors.check(JCudaDriver.cuModuleGetFunction(f, module, name), "cuModuleGetFunction(" + name + ")");
            return f;
        });
    }

    /**
     * Device memory as the driver reports it ({@code cuMemGetInfo}): free bytes include nothing reserved by other
     * processes, so it is the ceiling for any allocation, managed memory included.
     */
    public MemoryInfo memoryInfo() {
        makeCurrent();
        long[] free = new long[1];
        long[] total = new long[1];
        CudaErrors.check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
        return new MemoryInfo(free[0], total[0]);
    }

    /**
     * @param freeBytes  bytes the driver can still allocate on the device
     * @param totalBytes the device's memory
     */
    public record MemoryInfo(long freeBytes, long totalBytes) {
    }

    /** "NVIDIA H100 80GB HBM3, compute capability 9.0, 81559 MiB, driver API 12.4". */
    public String description() {
        return description;
    }

    /** Waits for all work on the device; errors of an asynchronous launch surface here. */
    void synchronize(String after) {
        CudaErrors.check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize after " + after);
    }

    @Override
    public String toString() {
        return "cuda: " + description;
    }
}
