package io.qlora4j.sim;

import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A simulated device ({@code --gpu}): its memory, the bf16 tensor throughput it peaks at, its own memory bandwidth
 * (for the optimizer update) and its host link. Either a named card from {@link #CATALOG} or a bare size:
 * {@code 48GB} (decimal, 48·10^9 bytes), {@code 24GiB} (binary, 24·2^30), also {@code MB}/{@code MiB}/{@code TB}/{@code TiB};
 * a bare size computes like an A100 (312 TFLOP/s bf16) over PCIe 4 x16.
 *
 * <p>The catalog (vendor data sheets; dense bf16 tensor throughput with fp32 accumulation, no sparsity; memory as the
 * binary size the card is sold as; effective host link: PCIe 4 x16 ≈ 25 GB/s, PCIe 5 x16 ≈ 50 GB/s):
 * <pre>
 * name        memory   bf16 TFLOP/s  memory GB/s  host link GB/s
 * rtx3090     24 GiB       71           936          25
 * rtx4090     24 GiB      165          1008          25
 * a6000       48 GiB      155           768          25
 * l40s        48 GiB      362           864          25
 * a100-40gb   40 GiB      312          1555          25
 * a100-80gb   80 GiB      312          2039          25
 * h100-80gb   80 GiB      989          3350          50
 * </pre>
 *
 * @param name                 the card, or the size as given
 * @param memoryBytes          device memory: the simulated budget
 * @param peakFlops            dense bf16 tensor FLOP/s
 * @param memoryBytesPerSecond device memory bandwidth
 * @param linkBytesPerSecond   effective host-device bandwidth per direction
 */
public record GpuSpec(String name, long memoryBytes, double peakFlops, double memoryBytesPerSecond,
                      double linkBytesPerSecond) {

    private static final long GIB = 1L << 30;
    /** PCIe 4 x16: 32 GB/s raw per direction, about 25 GB/s achieved by pinned copies. */
    public static final double PCIE4_BYTES_PER_SECOND = 25e9;

    public static final List<GpuSpec> CATALOG = List.of(
            new GpuSpec("rtx3090", 24 * GIB, 71e12, 936e9, PCIE4_BYTES_PER_SECOND),
            new GpuSpec("rtx4090", 24 * GIB, 165e12, 1008e9, PCIE4_BYTES_PER_SECOND),
            new GpuSpec("a6000", 48 * GIB, 155e12, 768e9, PCIE4_BYTES_PER_SECOND),
            new GpuSpec("l40s", 48 * GIB, 362e12, 864e9, PCIE4_BYTES_PER_SECOND),
            new GpuSpec("a100-40gb", 40 * GIB, 312e12, 1555e9, PCIE4_BYTES_PER_SECOND),
            new GpuSpec("a100-80gb", 80 * GIB, 312e12, 2039e9, PCIE4_BYTES_PER_SECOND),
            new GpuSpec("h100-80gb", 80 * GIB, 989e12, 3350e9, 50e9));

    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(MB|MIB|GB|GIB|TB|TIB)");

    public GpuSpec {
        if (memoryBytes <= 0) throw new SimulationException("--gpu " + name + ": memory must be positive");
    }

    /** {@code --gpu}: a catalog name or a size. */
    public static GpuSpec parse(String gpu) {
        String key = gpu.trim().toLowerCase(Locale.ROOT);
        for (GpuSpec g : CATALOG) {
            if (g.name.equals(key)) return g;
        }
        Matcher m = SIZE.matcher(gpu.trim().toUpperCase(Locale.ROOT));
        if (!m.matches()) {
            throw new SimulationException("--gpu '" + gpu + "' is neither a size (48GB, 24GiB, 80GB, 1.5TB) nor a known card ("
                    + CATALOG.stream().map(GpuSpec::name).collect(Collectors.joining(", ")) + ")");
        }
        double unit = switch (m.group(2)) {
            case "MB" -> 1e6;
            case "MIB" -> 1 << 20;
            case "GB" -> 1e9;
            case "GIB" -> GIB;
            case "TB" -> 1e12;
            default -> 1024.0 * GIB;
        };
        return sized(gpu.trim(), (long) (Double.parseDouble(m.group(1)) * unit));
    }

    /** A device of {@code bytes} that computes like an A100 over PCIe 4 x16. */
    public static GpuSpec sized(String name, long bytes) {
        GpuSpec a100 = CATALOG.get(4);
        return new GpuSpec(name, bytes, a100.peakFlops, a100.memoryBytesPerSecond, PCIE4_BYTES_PER_SECOND);
    }

    /** This device with another host link bandwidth ({@code --link-gbps}). */
    public GpuSpec withLink(double bytesPerSecond) {
        if (!(bytesPerSecond > 0)) throw new SimulationException("--link-gbps must be positive, got " + bytesPerSecond / 1e9);
        return new GpuSpec(name, memoryBytes, peakFlops, memoryBytesPerSecond, bytesPerSecond);
    }
}
