/**
 * Memory-pressure simulation: will a fine-tuning run fit a GPU, where will it page, and what does paging cost.
 * <ul>
 *   <li>The analytic model: {@link io.qlora4j.sim.MemoryModel} with its two profiles ({@link io.qlora4j.sim.GpuMemoryModel}
 *       for a bf16 PyTorch/bitsandbytes run, {@link io.qlora4j.sim.CpuMemoryModel} for our trainer), over a
 *       {@link io.qlora4j.sim.TrainingSetup}, giving {@link io.qlora4j.sim.Footprint}s per {@link io.qlora4j.sim.Component}.</li>
 *   <li>The discrete-event simulation: {@link io.qlora4j.sim.Simulation} drives the real memory manager over
 *       {@link io.qlora4j.sim.SimulatedDeviceTier}, {@link io.qlora4j.sim.SimulatedHostTier}, a
 *       {@link io.qlora4j.sim.HostLink} and a {@link io.qlora4j.sim.VirtualClock}, timed by a
 *       {@link io.qlora4j.sim.ComputeModel}, over a {@link io.qlora4j.sim.SequenceTrace} (from a
 *       {@link io.qlora4j.sim.LengthDistribution} or {@link io.qlora4j.sim.DatasetLengths}).</li>
 *   <li>Outputs: {@link io.qlora4j.sim.Verdict}, {@link io.qlora4j.sim.SimulationReport}, {@link io.qlora4j.sim.MemoryPlot},
 *       {@link io.qlora4j.sim.StepCsv}.</li>
 *   <li>Against reality: {@link io.qlora4j.sim.RealRun} (the real trainer on a scenario), {@link io.qlora4j.sim.Calibration},
 *       and the paging issue's {@link io.qlora4j.sim.SpikeScenario}.</li>
 * </ul>
 */
package io.qlora4j.sim;
