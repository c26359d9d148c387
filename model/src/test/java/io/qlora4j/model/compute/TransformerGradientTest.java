package io.qlora4j.model.compute;

import io.qlora4j.kernels.Backend;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.TrainableTensor;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.lora.DropoutMask;
import io.qlora4j.model.lora.LoraAdapter;
import io.qlora4j.model.lora.LoraAdapters;
import io.qlora4j.model.lora.LoraConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The training pass against the float64 naive model: logits, and the LoRA gradients of the whole model by central finite
 * differences in float64; then exact properties: gradient checkpointing changes nothing, a 4-bit base equals a dense base
 * holding the dequantized weights, and gradient accumulation equals one larger batch.
 */
class TransformerGradientTest {

    private static final LoraConfig LORA = new LoraConfig(3, 6, 0, EnumSet.allOf(LinearLayerName.class));

    @ParameterizedTest(name = "tied={0} bias={1} layout={2}")
    @CsvSource({"false,false,HALF_SPLIT", "true,true,INTERLEAVED", "false,true,HALF_SPLIT"})
    void loraGradientsMatchFloat64FiniteDifferences(boolean tied, boolean bias, RopeLayout layout) {
        LlamaConfig c = TinyModels.config(tied, bias);
        LlamaModel model = TinyModels.model(c, layout, 7, false).withBackend(Backend.reference());
        LoraAdapters adapters = TinyModels.adapters(c, LORA, 11);
        Batch batch = TinyModels.batch(c, 3, 9, 6);
        NaiveLlama naive = new NaiveLlama(model, adapters);

        // forward: logits of the first sequence against the float64 model
        float[] logits = new Transformer(model).logits(batch, AdapterContext.inference(adapters));
        double[][] ref = naive.sequenceLogits(java.util.Arrays.copyOfRange(batch.inputs(), 0, batch.seqLen()));
        for (int p = 0; p < batch.seqLen(); p++) {
            for (int v = 0; v < c.vocabSize(); v++) {
                assertEquals(ref[p][v], logits[p * c.vocabSize() + v], 2e-5, "logit " + p + "," + v);
            }
        }

        Transformer.Loss loss = new Transformer(model).forwardBackward(batch, AdapterContext.inference(adapters),
                Gradients.FROZEN, false, 1f);
        assertEquals(naive.loss(batch), loss.sum(), 1e-4);
        SplittableRandom pick = new SplittableRandom(5);
        double h = 1e-4;
        int checked = 0;
        for (int l = 0; l < c.numLayers(); l++) {
            for (LinearLayerName n : LinearLayerName.values()) {
                LoraAdapter a = adapters.get(l, n);
                for (boolean isB : new boolean[]{false, true}) {
                    float[] values = isB ? a.b() : a.a();
                    float[] grads = isB ? a.gradB() : a.gradA();
                    for (int trial = 0; trial < 3; trial++) {
                        int i = pick.nextInt(values.length);
                        naive.override(values, i, values[i] + h);
                        double up = naive.loss(batch);
                        naive.override(values, i, values[i] - h);
                        double down = naive.loss(batch);
                        naive.clearOverride();
                        double fd = (up - down) / (2 * h);
                        assertEquals(fd, grads[i], 2e-4 + 2e-3 * Math.abs(fd), l + "." + n + (isB ? ".B[" : ".A[") + i + "]");
                        checked++;
                    }
                }
            }
        }
        assertEquals(2 * 7 * 2 * 3, checked);
    }

    @Test
    void gradientCheckpointingGivesIdenticalGradients() {
        LlamaConfig c = TinyModels.config(false, true);
        LlamaModel model = TinyModels.model(c, RopeLayout.HALF_SPLIT, 9, true);
        Batch batch = TinyModels.batch(c, 4, 12, 7, 10);
        LoraAdapters plain = TinyModels.adapters(c, LORA, 1);
        LoraAdapters ckpt = TinyModels.adapters(c, LORA, 1);
        DropoutMask drop = new DropoutMask(0.2, 77);
        Transformer t = new Transformer(model);
        Transformer.Loss a = t.forwardBackward(batch, new AdapterContext(plain, drop, 3, batch.offsets()), Gradients.FROZEN, false, 0.1f);
        Transformer.Loss b = t.forwardBackward(batch, new AdapterContext(ckpt, drop, 3, batch.offsets()), Gradients.FROZEN, true, 0.1f);
        assertEquals(a.sum(), b.sum());
        assertSameGrads(plain.trainables(), ckpt.trainables());
        long with = Transformer.activationBytes(c, 3, 12, AdapterContext.inference(plain), true);
        long without = Transformer.activationBytes(c, 3, 12, AdapterContext.inference(plain), false);
        assertTrue(with < without, "checkpointing saves activation memory: " + with + " vs " + without);
    }

    /** The QLoRA linear equals a LoRA linear over dequant(W): the 4-bit model and its dequantized dense copy agree exactly. */
    @Test
    void fourBitBaseEqualsDenseBaseOverDequantizedWeights() {
        LlamaConfig c = TinyModels.config(false, false);
        LlamaModel q = TinyModels.model(c, RopeLayout.HALF_SPLIT, 21, true);
        LlamaModel d = TinyModels.dequantized(q);
        Batch batch = TinyModels.batch(c, 8, 10, 5);
        LoraAdapters aq = TinyModels.adapters(c, LORA, 2);
        LoraAdapters ad = TinyModels.adapters(c, LORA, 2);
        assertArrayEquals(new Transformer(d).logits(batch, AdapterContext.inference(ad)),
                new Transformer(q).logits(batch, AdapterContext.inference(aq)));
        new Transformer(q).forwardBackward(batch, AdapterContext.inference(aq), Gradients.FROZEN, false, 1f);
        new Transformer(d).forwardBackward(batch, AdapterContext.inference(ad), Gradients.FROZEN, false, 1f);
        assertSameGrads(ad.trainables(), aq.trainables());
    }

    /** k micro-batches with the step's token count as normaliser give exactly the gradient of one batch k times larger. */
    @Test
    void gradientAccumulationEqualsOneLargerBatch() {
        LlamaConfig c = TinyModels.config(true, false);
        LlamaModel model = TinyModels.model(c, RopeLayout.HALF_SPLIT, 31, true);
        List<io.qlora4j.model.data.TokenizedExample> examples = new java.util.ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(2);
        for (int i = 0; i < 4; i++) {
            int len = 6 + rnd.nextInt(8);
            int[] t = rnd.ints(len, 0, c.vocabSize()).toArray();
            boolean[] m = new boolean[len];
            for (int j = len / 2; j < len; j++) m[j] = true;
            examples.add(new io.qlora4j.model.data.TokenizedExample(i, t, m));
        }
        Batch all = Batch.pack(examples, 0);
        Batch first = Batch.pack(examples.subList(0, 2), 0);
        Batch second = Batch.pack(examples.subList(2, 4), 0);
        DropoutMask drop = new DropoutMask(0.1, 5);
        LoraAdapters big = TinyModels.adapters(c, LORA, 3);
        LoraAdapters acc = TinyModels.adapters(c, LORA, 3);
        Transformer t = new Transformer(model);
        float scale = 1f / all.targetTokens();
        t.forwardBackward(all, new AdapterContext(big, drop, 1, all.offsets()), Gradients.FROZEN, false, scale);
        t.forwardBackward(first, new AdapterContext(acc, drop, 1, first.offsets()), Gradients.FROZEN, false, scale);
        t.forwardBackward(second, new AdapterContext(acc, drop, 1, second.offsets()), Gradients.FROZEN, true, scale);
        assertEquals(all.targetTokens(), first.targetTokens() + second.targetTokens());
        assertSameGrads(big.trainables(), acc.trainables());
    }

    /** A fresh adapter (B = 0) is an exact no-op. */
    @Test
    void freshAdaptersAreAnExactNoOp() {
        LlamaConfig c = TinyModels.config(false, true);
        LlamaModel model = TinyModels.model(c, RopeLayout.INTERLEAVED, 41, true);
        Batch batch = TinyModels.batch(c, 9, 11);
        LoraAdapters fresh = LoraAdapters.create(c, LoraConfig.qlora(), 1);
        assertArrayEquals(new Transformer(model).logits(batch, AdapterContext.NONE),
                new Transformer(model).logits(batch, AdapterContext.inference(fresh)));
    }

    /** Training logits and the KV-cache decoder agree position by position. */
    @Test
    void trainingPassAndIncrementalDecodingAgree() {
        LlamaConfig c = TinyModels.config(false, true);
        LlamaModel model = TinyModels.model(c, RopeLayout.HALF_SPLIT, 51, true);
        LoraAdapters ad = TinyModels.adapters(c, LORA, 4);
        Batch batch = TinyModels.batch(c, 10, 13);
        float[] all = new Transformer(model).logits(batch, AdapterContext.inference(ad));
        InferenceSession s = new InferenceSession(model, AdapterContext.inference(ad), 32);
        for (int p = 0; p < batch.seqLen(); p++) {
            float[] step = s.append(new int[]{batch.inputs()[p]});
            float[] expected = java.util.Arrays.copyOfRange(all, p * c.vocabSize(), (p + 1) * c.vocabSize());
            for (int v = 0; v < c.vocabSize(); v++) assertEquals(expected[v], step[v], 1e-5, "position " + p);
        }
    }

    static void assertSameGrads(List<TrainableTensor> expected, List<TrainableTensor> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(expected.get(i).grad(), actual.get(i).grad(), expected.get(i).name());
        }
    }
}
