package io.qlora4j.cli;

import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.quant.CheckpointQuantizer;
import io.qlora4j.model.quant.QuantizeReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code quantize}: a 16/32-bit model to a bitsandbytes-format 4-bit (or Int8) checkpoint, with an error table. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantize a model's linear layers (q,k,v,o,gate,up,down) blockwise into a",
                "bitsandbytes-format checkpoint: config.json with quantization_config,",
                "model.safetensors and the tokenizer files. Streams tensor by tensor and prints",
                "bits/parameter and reconstruction error per tensor type."})
final class QuantizeCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "Hugging Face model folder (config.json + safetensors) or llama2.c .bin checkpoint.")
    Path model;

    @Option(names = "--type", defaultValue = "nf4", paramLabel = "nf4|fp4|int8|int4",
            description = "Storage type (default: ${DEFAULT-VALUE}). nf4/fp4 are bitsandbytes formats; int4/int8 are read by qlora4j only.")
    String type;

    @Option(names = "--double-quant", description = "Quantize the block constants too (8-bit, blocks of 256): 4.127 instead of 4.5 bits/parameter for NF4.")
    boolean doubleQuant;

    @Option(names = "--blocksize", defaultValue = "64", paramLabel = "N",
            description = "Elements per block, a power of two from 32 to 4096 (default: ${DEFAULT-VALUE}, QLoRA's).")
    int blocksize;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder (created; files in it are replaced).")
    Path out;

    @Override
    public Integer call() {
        QuantType quantType = QuantType.parse(type);
        var options = new CheckpointQuantizer.Options(quantType, doubleQuant, QuantType.checkBlocksize(blocksize));
        try (ModelFiles in = ModelFiles.open(model)) {
            System.err.printf("quantizing %s (%s) to %s%s%n", model, in.config(), quantType.cliName(), doubleQuant ? "+dq" : "");
            QuantizeReport report = CheckpointQuantizer.quantize(in, options, out, (i, total, name, quantized) -> {
                if (quantized) System.err.printf("  [%d/%d] %s%n", i, total, name);
            });
            System.out.print(report.table());
            System.out.println("wrote " + out.toAbsolutePath());
        }
        return 0;
    }
}
