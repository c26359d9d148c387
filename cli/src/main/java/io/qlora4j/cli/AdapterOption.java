package io.qlora4j.cli;

import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.lora.LoraAdapters;
import io.qlora4j.model.lora.PeftAdapter;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code --adapter DIR}: a PEFT LoRA adapter applied on top of the base model. */
final class AdapterOption {

    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors).")
    Path adapter;

    AdapterContext load(LlamaModel model) {
        if (adapter == null) return AdapterContext.NONE;
        LoraAdapters a = PeftAdapter.load(adapter, model.config(), model.ropeLayout());
        System.err.printf("adapter %s: r=%d alpha=%s on %s, %,d parameters%n", adapter, a.config().rank(),
                a.config().alpha(), a.config().targets(), a.parameters());
        return AdapterContext.inference(a);
    }
}
