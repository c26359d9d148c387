package io.qlora4j.actors.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.qlora4j.kernels.DenseWeight;
import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.memory.MemoryManager;
import io.qlora4j.memory.PagingConfig;
import io.qlora4j.memory.optim.OptimizerKind;
import io.qlora4j.model.DecoderLayerWeights;
import io.qlora4j.model.LinearLayerName;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.LlamaWeights;
import io.qlora4j.model.data.Batch;
import io.qlora4j.model.data.TokenizedExample;
import io.qlora4j.model.io.AtomicFiles;
import io.qlora4j.model.io.DType;
import io.qlora4j.model.io.SafetensorsWriter;
import io.qlora4j.model.io.TensorSpec;
import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.model.tokenizer.Tokenizers;
import io.qlora4j.model.tokenizer.llama2c.BpeTrainer;
import io.qlora4j.model.tokenizer.llama2c.Llama2cVocab;
import io.qlora4j.model.train.LrSchedule;
import io.qlora4j.model.train.TrainStep;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * The base model of the embedded default run, built by the project itself and cached: a BPE tokenizer learned on the
 * {@link DemoWorld} corpus, and a small LLaMA-architecture model (RMSNorm, RoPE, GQA, SwiGLU, tied embeddings) trained
 * from random weights by full-parameter training on that corpus with this project's own trainer. Deterministic (fixed
 * seeds, thread-count-independent kernels): the same files on every machine. Saved as a Hugging Face folder
 * ({@code config.json}, {@code model.safetensors}, {@code tokenizer.bin}) so every command can use it.
 */
public final class DemoBase {

    /** Bump when anything below changes, so a stale cache is rebuilt. */
    public static final int VERSION = 2;
    static final long SEED = 20231108;
    static final int STORIES = 6000;
    static final int MERGES = 320;
    static final int BATCH = 24;

    /** The folder, whether it came from the cache, how long building took, and the final training loss. */
    public record Built(Path dir, boolean cached, double seconds, double finalLoss) {
    }

    private DemoBase() {
    }

    /** The model folder in {@code cacheRoot}, building it first if it is not there. */
    public static Built ensure(Path cacheRoot, int steps, Consumer<String> log) {
        Path dir = cacheRoot.resolve("default-base-v" + VERSION + "-" + steps);
        if (Files.isRegularFile(dir.resolve("model.safetensors"))) return new Built(dir, true, 0, Double.NaN);
        long start = System.nanoTime();
        Path tmp = cacheRoot.resolve(".building-" + dir.getFileName() + "-" + System.nanoTime());
        try {
            Files.createDirectories(tmp);
            List<String> corpus = DemoWorld.stories(SEED, STORIES);
            Llama2cVocab vocab = BpeTrainer.train(corpus, MERGES, tmp.resolve("tokenizer.bin"));
            vocab.writeBin(tmp.resolve("tokenizer.bin"));
            Tokenizer tok = Tokenizers.load(tmp.resolve("tokenizer.bin"));
            LlamaConfig config = config(vocab.size());
            LlamaModel model = randomModel(config, new SplittableRandom(SEED));
            log.accept(String.format("building the default base model (once; cached in %s): %s, %,d parameters, "
                    + "trained on %,d generated stories for %d steps", dir, config, parameters(model), corpus.size(), steps));
            double loss = pretrain(model, tok, corpus, steps, tmp, log);
            save(model, tmp);
            Files.createDirectories(cacheRoot);
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            return new Built(dir, false, (System.nanoTime() - start) * 1e-9, loss);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot build the default base model in " + dir + ": " + e.getMessage(), e);
        } finally {
            AtomicFiles.deleteTree(tmp);
        }
    }

    static LlamaConfig config(int vocab) {
        return LlamaConfig.llama(96, 256, 4, 4, 2, vocab, 160, 1e-5, 10000.0, true);
    }

    static LlamaModel randomModel(LlamaConfig c, SplittableRandom rnd) {
        float[] emb = normal(rnd, c.vocabSize() * c.hiddenSize(), 0.02);
        DecoderLayerWeights[] layers = new DecoderLayerWeights[c.numLayers()];
        double residualStd = 0.02 / Math.sqrt(2.0 * c.numLayers());   // GPT-2's scaled init of the residual projections
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new DecoderLayerWeights(ones(c.hiddenSize()),
                    dense(rnd, c.qDim(), c.hiddenSize(), 0.02), dense(rnd, c.kvDim(), c.hiddenSize(), 0.02),
                    dense(rnd, c.kvDim(), c.hiddenSize(), 0.02), dense(rnd, c.hiddenSize(), c.qDim(), residualStd),
                    null, null, null, ones(c.hiddenSize()),
                    dense(rnd, c.intermediateSize(), c.hiddenSize(), 0.02), dense(rnd, c.intermediateSize(), c.hiddenSize(), 0.02),
                    dense(rnd, c.hiddenSize(), c.intermediateSize(), residualStd));
        }
        LinearWeight head = new DenseWeight(emb, c.vocabSize(), c.hiddenSize());
        return new LlamaModel(c, new LlamaWeights(emb, layers, ones(c.hiddenSize()), head, true), RopeLayout.HALF_SPLIT);
    }

    /** Full-parameter training on the stories (every token a target), AdamW with warmup and cosine decay. */
    static double pretrain(LlamaModel model, Tokenizer tok, List<String> corpus, int steps, Path workDir, Consumer<String> log) {
        List<TokenizedExample> examples = new ArrayList<>();
        for (int i = 0; i < corpus.size(); i++) {
            int[] ids = tok.encode(corpus.get(i), true);
            int[] withEos = Arrays.copyOf(ids, ids.length + 1);
            withEos[ids.length] = tok.eosId();
            boolean[] targets = new boolean[withEos.length];
            Arrays.fill(targets, 1, targets.length, true);
            examples.add(new TokenizedExample(i, withEos, targets));
        }
        SplittableRandom order = new SplittableRandom(SEED + 1);
        try (MemoryManager memory = MemoryManager.openRunDirectory(workDir, PagingConfig.of(1L << 40), 1L << 24);
             TrainStep step = TrainStep.full(model, memory, OptimizerKind.ADAMW_32BIT.options(),
                     new TrainStep.Options(false, 1.0f, new LrSchedule(LrSchedule.Type.COSINE, 3e-3, steps / 20, steps), SEED))) {
            double loss = Double.NaN;
            for (int s = 1; s <= steps; s++) {
                List<TokenizedExample> batch = new ArrayList<>(BATCH);
                for (int i = 0; i < BATCH; i++) batch.add(examples.get(order.nextInt(examples.size())));
                TrainStep.Result r = step.step(List.of(Batch.pack(batch, 0)));
                loss = Double.isNaN(loss) ? r.loss() : 0.95 * loss + 0.05 * r.loss();
                if (s % Math.max(1, steps / 10) == 0) log.accept(String.format("  base model step %d/%d: loss %.3f", s, steps, loss));
            }
            return loss;
        }
    }

    static void save(LlamaModel model, Path dir) throws IOException {
        LlamaConfig c = model.config();
        SafetensorsWriter w = new SafetensorsWriter(Map.of("format", "pt"));
        w.put(new TensorSpec("model.embed_tokens.weight", DType.F32, c.vocabSize(), c.hiddenSize()), model.weights().embedding());
        for (int l = 0; l < c.numLayers(); l++) {
            DecoderLayerWeights d = model.weights().layers()[l];
            w.put(new TensorSpec("model.layers." + l + ".input_layernorm.weight", DType.F32, c.hiddenSize()), d.attnNorm());
            w.put(new TensorSpec("model.layers." + l + ".post_attention_layernorm.weight", DType.F32, c.hiddenSize()), d.ffnNorm());
            for (LinearLayerName n : LinearLayerName.values()) {
                DenseWeight dw = (DenseWeight) d.linear(n);
                w.put(new TensorSpec(n.weightName(l), DType.F32, dw.rows(), dw.cols()), dw.data());
            }
        }
        w.put(new TensorSpec("model.norm.weight", DType.F32, c.hiddenSize()), model.weights().finalNorm());
        w.write(dir.resolve("model.safetensors"));
        AtomicFiles.writeString(dir.resolve("config.json"),
                new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(c.toJson()) + "\n");
        AtomicFiles.deleteTree(dir.resolve("paging"));
    }

    static long parameters(LlamaModel model) {
        long n = model.weights().embedding().length + model.weights().finalNorm().length;
        for (DecoderLayerWeights d : model.weights().layers()) {
            n += d.attnNorm().length + d.ffnNorm().length;
            for (LinearLayerName name : LinearLayerName.values()) n += (long) d.linear(name).rows() * d.linear(name).cols();
        }
        return n;
    }

    private static LinearWeight dense(SplittableRandom rnd, int rows, int cols, double std) {
        return new DenseWeight(normal(rnd, rows * cols, std), rows, cols);
    }

    private static float[] normal(SplittableRandom rnd, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * std);
        return v;
    }

    private static float[] ones(int n) {
        float[] v = new float[n];
        Arrays.fill(v, 1f);
        return v;
    }
}
