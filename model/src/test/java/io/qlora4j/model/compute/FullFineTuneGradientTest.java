package io.qlora4j.model.compute;

import io.qlora4j.kernels.Backend;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.TrainableTensor;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.train.FullFineTune;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Full fine-tuning's gradients (issue 4, the 16-bit baseline): every base weight (the seven projections of each layer,
 * both norms, the final norm, the embedding tied and untied, lm_head, Qwen2's q/k/v biases) against central finite
 * differences of the float64 {@link NaiveLlama}, and gradient checkpointing on and off giving identical gradients.
 */
class FullFineTuneGradientTest {

    @ParameterizedTest(name = "tied={0} bias={1} layout={2}")
    @CsvSource({"false,false,HALF_SPLIT", "true,true,INTERLEAVED", "false,true,HALF_SPLIT", "true,false,HALF_SPLIT"})
    void everyWeightsGradientMatchesFloat64FiniteDifferences(boolean tied, boolean bias, RopeLayout layout) {
        LlamaConfig c = TinyModels.config(tied, bias);
        LlamaModel model = TinyModels.model(c, layout, 17, false).withBackend(Backend.reference());
        Batch batch = TinyModels.batch(c, 5, 9, 6);
        FullFineTune full = new FullFineTune(model);
        Transformer.Loss loss = new Transformer(model).forwardBackward(batch, AdapterContext.NONE, full, false, 1f);
        NaiveLlama naive = new NaiveLlama(model, null);
        assertEquals(naive.loss(batch), loss.sum(), 1e-4);

        List<TrainableTensor> params = full.trainables();
        int expectedTensors = 1 + c.numLayers() * (2 + 7 + (bias ? 3 : 0)) + 1 + (tied ? 0 : 1);
        assertEquals(expectedTensors, params.size(), "one trainable per weight: " + params.stream().map(TrainableTensor::name).toList());
        SplittableRandom pick = new SplittableRandom(23);
        double h = 1e-3;
        int checked = 0;
        double worst = 0;
        for (TrainableTensor t : params) {
            for (int trial = 0; trial < 3; trial++) {
                int i = index(t, c, batch, pick);
                float v = t.value()[i];
                naive.override(t.value(), i, v + h);
                double up = naive.loss(batch);
                naive.override(t.value(), i, v - h);
                double down = naive.loss(batch);
                naive.clearOverride();
                double fd = (up - down) / (2 * h);
                assertEquals(fd, t.grad()[i], 1e-4 + 2e-3 * Math.abs(fd), t.name() + "[" + i + "]");
                worst = Math.max(worst, Math.abs(fd - t.grad()[i]));
                checked++;
            }
        }
        System.out.printf("full fine-tuning, tied=%s bias=%s %s: %d gradients of %d tensors within %.1e of float64 finite differences%n",
                tied, bias, layout, checked, params.size(), worst);
        if (bias) assertTrue(params.stream().anyMatch(t -> t.name().equals("model.layers.1.self_attn.k_proj.bias")));
        assertEquals(tied, params.stream().noneMatch(t -> t.name().equals("lm_head.weight")));
    }

    @Test
    void checkpointingGivesIdenticalFullGradients() {
        LlamaConfig c = TinyModels.config(false, true);
        LlamaModel model = TinyModels.model(c, RopeLayout.HALF_SPLIT, 29, false);
        Batch batch = TinyModels.batch(c, 6, 12, 7, 10);
        FullFineTune plain = new FullFineTune(model);
        FullFineTune checkpointed = new FullFineTune(model);
        Transformer t = new Transformer(model);
        Transformer.Loss a = t.forwardBackward(batch, AdapterContext.NONE, plain, false, 0.1f);
        Transformer.Loss b = t.forwardBackward(batch, AdapterContext.NONE, checkpointed, true, 0.1f);
        assertEquals(a.sum(), b.sum());
        for (int i = 0; i < plain.trainables().size(); i++) {
            assertArrayEquals(plain.trainables().get(i).grad(), checkpointed.trainables().get(i).grad(),
                    plain.trainables().get(i).name());
        }
    }

    /** An element whose gradient is not trivially zero: embedding rows of tokens in the batch, any element elsewhere. */
    private static int index(TrainableTensor t, LlamaConfig c, Batch batch, SplittableRandom pick) {
        if (t.name().equals("model.embed_tokens.weight")) {
            int token = batch.inputs()[pick.nextInt(batch.positions())];
            return token * c.hiddenSize() + pick.nextInt(c.hiddenSize());
        }
        return pick.nextInt(t.value().length);
    }
}
