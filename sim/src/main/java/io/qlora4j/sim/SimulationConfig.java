package io.qlora4j.sim;

/**
 * One simulated run: what is trained, on which device, whether optimizer state may be paged, how fast it computes.
 *
 * @param setup   what is trained
 * @param gpu     the device: its memory is the budget, its link carries the pages
 * @param paging  whether optimizer pages may leave the device ({@code --no-paging} turns it off)
 * @param compute the compute speed
 */
public record SimulationConfig(TrainingSetup setup, GpuSpec gpu, boolean paging, ComputeModel compute) {

    /** The device at its catalog (or default) compute speed. */
    public static SimulationConfig of(TrainingSetup setup, GpuSpec gpu, boolean paging) {
        return new SimulationConfig(setup, gpu, paging, ComputeModel.of(gpu));
    }
}
