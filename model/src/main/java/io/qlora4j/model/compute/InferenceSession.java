package io.qlora4j.model.compute;

import io.qlora4j.kernels.Backend;
import io.qlora4j.kernels.RopeTable;
import io.qlora4j.model.LlamaConfig;
import io.qlora4j.model.LlamaModel;

/**
 * Incremental decoding of one sequence with a KV cache: {@link #append} feeds new tokens (a whole prompt at once, then
 * one token per step) and returns the logits of the last one. The same block code as training runs here, with keys and
 * values read from the cache. Base model plus optional adapters (no dropout).
 */
public final class InferenceSession {

    private final LlamaModel model;
    private final LlamaConfig c;
    private final Backend be;
    private final DecoderLayer block;
    private final AdapterContext adapters;
    private final KvCache cache;
    private int position;

    /** @param capacity the most tokens this session will hold (at most the model's context) */
    public InferenceSession(LlamaModel model, AdapterContext adapters, int capacity) {
        this.model = model;
        this.c = model.config();
        this.be = model.backend();
        this.block = new DecoderLayer(model);
        this.adapters = adapters;
        if (capacity < 1 || capacity > c.contextLength()) {
            throw new IllegalArgumentException("session capacity " + capacity + " must be in [1, " + c.contextLength()
                    + "]: the model's context is " + c.contextDescription());
        }
        this.cache = new KvCache(c, capacity);
    }

    /** Tokens processed so far. */
    public int position() {
        return position;
    }

    public int capacity() {
        return cache.capacity();
    }

    /** Feeds {@code tokens} after the ones already processed; returns the logits (V) predicting the next token. */
    public float[] append(int[] tokens) {
        int n = tokens.length;
        if (n == 0) throw new IllegalArgumentException("append needs at least one token");
        for (int t : tokens) {
            if (t < 0 || t >= c.vocabSize()) {
                throw new IllegalArgumentException("token id " + t + " outside the vocabulary [0, " + c.vocabSize() + ")");
            }
        }
        cache.begin(position, n);
        int[] positions = RopeTable.sequentialPositions(1, n, position);
        LayerActivations a = new LayerActivations(c, 1, n, adapters.rank(), adapters.adaptedProjections(), false);
        float[] x = new float[n * c.hiddenSize()];
        float[] next = new float[n * c.hiddenSize()];
        be.embedding().embeddingForward(x, tokens, model.weights().embedding(), n, c.vocabSize(), c.hiddenSize());
        for (int l = 0; l < c.numLayers(); l++) {
            block.forward(l, x, next, a, n, n, positions, adapters, cache, null);
            float[] t = x;
            x = next;
            next = t;
        }
        // only the last row's logits are needed
        float[] last = new float[c.hiddenSize()];
        System.arraycopy(x, (n - 1) * c.hiddenSize(), last, 0, c.hiddenSize());
        float[] normed = new float[c.hiddenSize()];
        be.rmsnorm().rmsnormForward(normed, null, last, model.weights().finalNorm(), 1, c.hiddenSize(), (float) c.rmsNormEps());
        float[] logits = new float[c.vocabSize()];
        be.matmul().forward(logits, normed, model.weights().lmHead(), 1, false);
        position += n;
        return logits;
    }

    /** Bytes of the KV cache. */
    public long cacheBytes() {
        return cache.bytes();
    }
}
