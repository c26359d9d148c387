package io.qlora4j.cli;

import io.qlora4j.kernels.bench.MatmulBench;
import io.qlora4j.kernels.bench.OpsBench;
import io.qlora4j.kernels.bench.QuantBench;
import io.qlora4j.memory.PagingConfig;
import io.qlora4j.memory.bench.PagingBench;
import io.qlora4j.model.bench.ModelBench;
import io.qlora4j.sim.bench.SpikeBench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code bench}: speed measurements that print ratios against a baseline measured in the same run (a memory copy, the
 * fp32 product). Results worth keeping go into BENCHMARKS.md with the command line that produced them.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Run a benchmark suite; every suite prints its baseline measured in the same run.",
                "Suites: quant (quantize/dequantize GB/s vs memory copy),",
                "        matmul (NF4 vs fp32 linear-layer products, and the bandwidth bound),",
                "        ops (transformer op kernels: Vector API vs reference loops),",
                "        paging (optimizer page-out/page-in GB/s, Chronicle Map host tier, vs memory copy),",
                "        model (generation/prompt tokens/s nf4 vs fp32 base and the bandwidth bound; training tokens/s",
                "               and memory: QLoRA vs LoRA over fp32 vs full fine-tuning),",
                "        spike (step-time overhead of paging on the spike workload vs an unlimited budget)."})
final class BenchCommand implements Callable<Integer> {

    enum Suite {quant, matmul, ops, paging, model, spike}

    @Parameters(index = "0", paramLabel = "SUITE", description = "quant | matmul | ops | paging | model | spike")
    Suite suite;

    @Option(names = "--threads", split = ",", defaultValue = "1,2", paramLabel = "N[,N...]",
            description = "Thread counts to measure (default: ${DEFAULT-VALUE}).")
    int[] threads;

    @Option(names = "--seconds", defaultValue = "1.0", description = "Minimum time per case (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--elements", defaultValue = "67108864", description = "quant: elements of the test tensor (default: 2^26).")
    int elements;

    @Option(names = "--paging-bytes", defaultValue = "268435456", description = "paging: bytes paged per pass (default: 256 MiB).")
    long pagingBytes;

    @Option(names = "--page-bytes", defaultValue = "" + PagingConfig.DEFAULT_PAGE_BYTES, description = "paging: page size (default: ${DEFAULT-VALUE}).")
    int pageBytes;

    @Option(names = "--model", paramLabel = "PATH", description = "model, spike: the stories260K llama2.c checkpoint (default: the shared data's).")
    Path model;

    @Option(names = "--batch", defaultValue = "4", description = "model: training micro-batch of 256-token sequences (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--repetitions", defaultValue = "5", description = "spike: alternating runs of each budget (default: ${DEFAULT-VALUE}).")
    int repetitions;

    @Option(names = "--dir", description = "paging: where the benchmark's host-tier files go (default: the temp directory).")
    Path dir;

    @Override
    public Integer call() {
        System.out.printf("machine: %d cores, %s %s, max heap %d MiB%n", Runtime.getRuntime().availableProcessors(),
                System.getProperty("os.arch"), System.getProperty("java.vm.name") + " " + Runtime.version(),
                Runtime.getRuntime().maxMemory() >> 20);
        switch (suite) {
            case quant -> QuantBench.run(System.out, elements, threads, seconds);
            case matmul -> MatmulBench.run(System.out, threads, seconds);
            case ops -> OpsBench.run(System.out, threads, seconds);
            case paging -> PagingBench.run(System.out, dir != null ? dir : Path.of(System.getProperty("java.io.tmpdir")),
                    pagingBytes, pageBytes, seconds);
            case model -> ModelBench.run(System.out, Optional.ofNullable(model).or(BenchCommand::sharedStories260K), threads,
                    seconds, batch);
            case spike -> SpikeBench.run(System.out, Optional.ofNullable(model).or(BenchCommand::sharedStories260K), repetitions);
        }
        return 0;
    }

    /** stories260K.bin in the shared data beside the checkout (the launcher sets qlora4j.shared), if there. */
    private static Optional<Path> sharedStories260K() {
        String shared = System.getProperty("qlora4j.shared");
        if (shared == null) return Optional.empty();
        Path p = Path.of(shared, "data", "models", "stories260K", "stories260K.bin");
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }
}
