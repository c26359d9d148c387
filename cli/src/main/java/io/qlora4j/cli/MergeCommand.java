package io.qlora4j.cli;

import io.qlora4j.model.ModelFiles;
import io.qlora4j.model.WeightFormat;
import io.qlora4j.model.io.DType;
import io.qlora4j.model.lora.AdapterMerger;
import io.qlora4j.model.lora.LoraAdapters;
import io.qlora4j.model.lora.PeftAdapter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code merge}: base + adapter → one plain model (W + alpha/r·B·A), optionally re-quantized. */
@Command(name = "merge", mixinStandardHelpOptions = true,
        description = {"Merge a LoRA adapter into its base model: W' = dequant(W) + (alpha/r)·B·A in fp32, written as a",
                "plain safetensors model (or re-quantized with --requantize; 4-bit merging loses precision)."})
final class MergeCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "PATH", description = "The base model the adapter was trained on.")
    Path model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR", description = "PEFT adapter folder.")
    Path adapter;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output model folder.")
    Path out;

    @Option(names = "--dtype", defaultValue = "nf4", paramLabel = "nf4|fp4|int8|int4|fp32",
            description = "The base storage the adapter was trained against (default: ${DEFAULT-VALUE}, QLoRA's).")
    String dtype;

    @Option(names = "--out-dtype", defaultValue = "fp32", paramLabel = "fp32|bf16|fp16",
            description = "Dtype of the merged weights (default: ${DEFAULT-VALUE}).")
    String outDtype;

    @Option(names = "--requantize", paramLabel = "nf4|fp4|int8|int4", description = "Write the merged linear weights quantized (bitsandbytes format).")
    String requantize;

    @Override
    public Integer call() {
        DType dt = switch (outDtype.toLowerCase(Locale.ROOT)) {
            case "fp32", "f32", "float32" -> DType.F32;
            case "bf16", "bfloat16" -> DType.BF16;
            case "fp16", "f16", "float16" -> DType.F16;
            default -> throw new IllegalArgumentException("--out-dtype must be fp32, bf16 or fp16, got " + outDtype);
        };
        try (ModelFiles base = ModelFiles.open(model)) {
            LoraAdapters adapters = PeftAdapter.load(adapter, base.config(), base.tensors().ropeLayout());
            AdapterMerger.merge(base, WeightFormat.parse(dtype), adapters, out, dt, AdapterMerger.requantizeOption(requantize));
            System.out.printf("merged %s (r=%d, alpha=%s) into %s (base as %s) -> %s%n", adapter, adapters.config().rank(),
                    adapters.config().alpha(), model, dtype, out.toAbsolutePath());
        }
        return 0;
    }
}
