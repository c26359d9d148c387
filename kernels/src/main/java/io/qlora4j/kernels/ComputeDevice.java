package io.qlora4j.kernels;

import io.qlora4j.kernels.cuda.CudaBackend;
import io.qlora4j.kernels.cuda.CudaDevice;

/**
 * Where the kernels run, as the user asks for it ({@code --device cpu|cuda|auto}). {@link #select()} turns the request
 * into a {@link Backend} and says which it chose and why; {@code cuda} without a usable device is an error that gives the
 * reason, {@code auto} falls back to the CPU visibly (logged, and in the returned reason).
 */
public enum ComputeDevice {
    /** {@link Backend#cpu()}: the Vector API kernels, or the reference loops without 512-bit vectors. */
    CPU,
    /** {@link CudaBackend} on CUDA device 0; an error when there is none. */
    CUDA,
    /** CUDA when a usable device is present, else the CPU. */
    AUTO;

    private static final System.Logger LOG = System.getLogger(ComputeDevice.class.getName());

    /**
     * The chosen backend and why it was chosen.
     *
     * @param backend the kernels to run (its description says which implementations they are)
     * @param reason  e.g. "auto: CPU, because CUDA is unavailable: libcuda.so.1 not found (no NVIDIA driver on this machine)"
     */
    public record Selection(Backend backend, String reason) {
    }

    /**
     * Chooses the backend.
     *
     * @throws IllegalStateException for {@link #CUDA} when no usable CUDA device is present, with the probe's reason
     */
    public Selection select() {
        CudaDevice.Probe probe = this == CPU ? null : CudaDevice.probe();
        return switch (this) {
            case CPU -> new Selection(Backend.cpu(), "cpu: requested with --device cpu");
            case CUDA -> {
                if (!probe.available()) {
                    throw new IllegalStateException("--device cuda: no usable CUDA device: " + probe.reason()
                            + ". Use --device cpu, or --device auto to fall back to the CPU.");
                }
                yield new Selection(CudaBackend.create(CudaDevice.get()), "cuda: requested with --device cuda: " + probe.reason());
            }
            case AUTO -> {
                if (probe.available()) {
                    yield new Selection(CudaBackend.create(CudaDevice.get()), "auto: CUDA, device found: " + probe.reason());
                }
                String reason = "auto: CPU, because CUDA is unavailable: " + probe.reason();
                LOG.log(System.Logger.Level.INFO, reason);
                yield new Selection(Backend.cpu(), reason);
            }
        };
    }
}
