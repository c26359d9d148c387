package io.qlora4j.cli;

import io.qlora4j.kernels.cuda.CudaDevice;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** {@code bench --device}: asking for CUDA where there is none is one clear line, with the probe's reason. */
class BenchDeviceTest {

    @Test
    void cudaWithoutADeviceIsOneClearLine() {
        CudaDevice.Probe p = CudaDevice.probe();
        assumeFalse(p.available(), "a CUDA device is present: " + p.reason());
        CliRun r = CliRun.run("bench", "ops", "--device", "cuda", "--threads", "1", "--seconds", "0.01");
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().contains("qlora4j bench: error: --device cuda: no usable CUDA device: " + p.reason()), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    }
}
