package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.Backend;
import io.qlora4j.kernels.ComputeDevice;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The device probe and {@code --device} selection. Where there is no usable CUDA device (CI, this project's build
 * machine): the probe says why, {@code auto} picks the CPU and says so, {@code cuda} is an error carrying the reason.
 * Where there is one: {@code auto} and {@code cuda} give the CUDA backend.
 */
class CudaProbeTest {

    @Test
    void probeIsComputedOnceAndAlwaysHasAReason() {
        CudaDevice.Probe p = CudaDevice.probe();
        assertSame(p, CudaDevice.probe());
        assertFalse(p.reason().isBlank());
    }

    @Test
    void withoutADriverTheReasonIsTheMissingLibcuda() {
        assumeFalse(libcudaLoads(), "libcuda.so.1 is present on this machine");
        CudaDevice.Probe p = CudaDevice.probe();
        assertFalse(p.available());
        assertEquals("libcuda.so.1 not found (no NVIDIA driver on this machine)", p.reason());
    }

    /** JCuda's driver class fails to initialize without libcuda; the probe turns both failures into a reason. */
    @Test
    void jcudaLinkageErrorsBecomeAReasonEveryTime() {
        assumeFalse(libcudaLoads(), "libcuda.so.1 is present on this machine");
        CudaDevice.Probe first = CudaDevice.probeDriver().probe();    // UnsatisfiedLinkError from the class initializer
        CudaDevice.Probe second = CudaDevice.probeDriver().probe();   // NoClassDefFoundError from then on
        assertFalse(first.available());
        assertFalse(second.available());
        assertTrue(first.reason().startsWith("JCuda's driver library could not be loaded: java.lang.UnsatisfiedLinkError"),
                first.reason());
        assertTrue(second.reason().startsWith("JCuda's driver library could not be loaded: java.lang.NoClassDefFoundError"),
                second.reason());
    }

    @Test
    void autoFallsBackToTheCpuAndSaysWhy() {
        CudaDevice.Probe p = CudaDevice.probe();
        assumeFalse(p.available(), "a CUDA device is present: " + p.reason());
        ComputeDevice.Selection s = ComputeDevice.AUTO.select();
        assertEquals(Backend.cpu().description(), s.backend().description());
        assertEquals("auto: CPU, because CUDA is unavailable: " + p.reason(), s.reason());
    }

    @Test
    void cudaWithoutADeviceIsAnErrorWithTheReason() {
        CudaDevice.Probe p = CudaDevice.probe();
        assumeFalse(p.available(), "a CUDA device is present: " + p.reason());
        var e = assertThrows(IllegalStateException.class, ComputeDevice.CUDA::select);
        assertTrue(e.getMessage().startsWith("--device cuda: no usable CUDA device: " + p.reason()), e.getMessage());
        assertTrue(e.getMessage().contains("--device cpu"), e.getMessage());
        e = assertThrows(IllegalStateException.class, CudaDevice::get);
        assertEquals("CUDA backend unavailable: " + p.reason(), e.getMessage());
    }

    @Test
    void cpuIsTheCpuBackend() {
        ComputeDevice.Selection s = ComputeDevice.CPU.select();
        assertEquals(Backend.cpu().description(), s.backend().description());
        assertEquals("cpu: requested with --device cpu", s.reason());
    }

    @Test
    void withADeviceAutoAndCudaChooseIt() {
        CudaDevice.Probe p = CudaDevice.probe();
        assumeTrue(p.available(), "skipped: no CUDA device: " + p.reason());
        for (ComputeDevice d : new ComputeDevice[]{ComputeDevice.AUTO, ComputeDevice.CUDA}) {
            ComputeDevice.Selection s = d.select();
            assertTrue(s.backend().description().startsWith("cuda: "), s.backend().description());
            assertTrue(s.reason().contains(p.reason()), s.reason());
        }
        CudaDevice.MemoryInfo m = CudaDevice.get().memoryInfo();
        assertTrue(m.freeBytes() > 0 && m.freeBytes() <= m.totalBytes(), m.toString());
    }

    @SuppressWarnings("restricted")
    private static boolean libcudaLoads() {
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup("libcuda.so.1", arena);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
