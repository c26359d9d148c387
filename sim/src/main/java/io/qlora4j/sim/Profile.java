package io.qlora4j.sim;

import java.util.Locale;

/**
 * Whose memory the model accounts for ({@code --profile}). The formulas differ in element sizes and in which buffers
 * exist; the simulation drives the same memory manager for both.
 */
public enum Profile {
    /**
     * A bf16 PyTorch + bitsandbytes run as qlora.py configures it (the setting of the paper's memory figures):
     * {@link GpuMemoryModel}.
     */
    GPU("gpu"),
    /** Exactly the buffers our CPU trainer ({@code TrainStep}) leases: fp32 everywhere, {@link CpuMemoryModel}. */
    QLORA4J_CPU("qlora4j-cpu");

    private final String cliName;

    Profile(String cliName) {
        this.cliName = cliName;
    }

    public String cliName() {
        return cliName;
    }

    /** {@code gpu} (alias {@code paper}) or {@code qlora4j-cpu}. */
    public static Profile parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "gpu", "paper" -> GPU;
            case "qlora4j-cpu", "cpu" -> QLORA4J_CPU;
            default -> throw new SimulationException("unknown --profile '" + name + "': expected gpu (alias paper) or qlora4j-cpu");
        };
    }
}
