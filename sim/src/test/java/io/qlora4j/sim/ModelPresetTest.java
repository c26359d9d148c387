package io.qlora4j.sim;

import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelPresetTest {

    /** Parameter counts of the Hugging Face checkpoints (huggyllama/llama-*, meta-llama/Llama-2-70b-hf). */
    @Test
    void presetsHaveThePublishedParameterCounts() {
        assertEquals(6_738_415_616L, ParameterCounts.total(ModelPreset.LLAMA_7B.config()));
        assertEquals(13_015_864_320L, ParameterCounts.total(ModelPreset.LLAMA_13B.config()));
        assertEquals(32_528_943_616L, ParameterCounts.total(ModelPreset.LLAMA_33B.config()));
        assertEquals(65_285_660_672L, ParameterCounts.total(ModelPreset.LLAMA_65B.config()));
        assertEquals(68_976_648_192L, ParameterCounts.total(ModelPreset.LLAMA2_70B.config()));
        assertEquals(8, ModelPreset.resolve("70B").config().numKvHeads());
    }

    @Test
    void configJsonOrItsFolder() {
        Path folder = SharedData.require("models/stories260K-hf");
        assertEquals(64, ModelPreset.resolve(folder.toString()).config().hiddenSize());
        assertEquals(5, ModelPreset.resolve(folder.resolve("config.json").toString()).config().numLayers());
        SimulationException e = assertThrows(SimulationException.class, () -> ModelPreset.resolve(folder.resolve("nope").toString()));
        assertTrue(e.getMessage().contains("neither a preset"), e.getMessage());
    }
}
