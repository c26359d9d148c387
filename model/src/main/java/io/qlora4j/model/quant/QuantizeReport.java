package io.qlora4j.model.quant;

import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.model.LinearLayerName;

import java.util.Locale;
import java.util.Map;

/**
 * What {@link CheckpointQuantizer} did: per projection kind and in total, bits per parameter and reconstruction error
 * (mean absolute error, relative error ‖W − deq(q(W))‖/‖W‖, SNR), plus sizes, time and peak heap.
 *
 * @param perKind        statistics per projection kind, in block order
 * @param keptParameters parameters left in 16/32 bits (embeddings, norms, lm_head)
 * @param inputBytes     bytes of the input weights
 * @param outputBytes    bytes of the written model.safetensors
 * @param peakHeapBytes  the largest heap use sampled during the run (garbage included: an upper bound)
 */
public record QuantizeReport(QuantType type, boolean doubleQuant, int blocksize,
                             Map<LinearLayerName, QuantizationStats> perKind, long keptParameters,
                             long inputBytes, long outputBytes, long peakHeapBytes, double seconds) {

    public QuantizationStats total() {
        return perKind.values().stream().reduce(QuantizationStats.EMPTY, QuantizationStats::plus);
    }

    /** The table printed by the {@code quantize} command. */
    public String table() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "quantized %s%s, blocksize %d (nominal %.4f bits/parameter)%n",
                type.cliName(), doubleQuant ? " + double quantization" : "", blocksize,
                type.nominalBitsPerParameter(blocksize, doubleQuant)));
        sb.append(String.format(Locale.ROOT, "%-10s %7s %12s %10s %12s %10s %9s%n",
                "tensor", "count", "params", "bits/param", "mean|err|", "rel.err", "SNR dB"));
        perKind.forEach((kind, s) -> sb.append(row(kind.shortName(), s)));
        sb.append(row("total", total()));
        sb.append(String.format(Locale.ROOT, "kept in 16/32 bits: %,d parameters (embeddings, norms, lm_head)%n", keptParameters));
        sb.append(String.format(Locale.ROOT, "weights: %,d bytes in, %,d bytes out (%.2fx smaller); peak heap %.1f MiB; %.2f s%n",
                inputBytes, outputBytes, (double) inputBytes / outputBytes, peakHeapBytes / 1048576.0, seconds));
        return sb.toString();
    }

    private static String row(String name, QuantizationStats s) {
        return String.format(Locale.ROOT, "%-10s %7d %12d %10.4f %12.4e %10.5f %9.2f%n", name, s.tensors(), s.parameters(),
                s.bitsPerParameter(), s.error().meanAbsError(), s.error().relativeError(), s.error().snrDb());
    }
}
