package io.qlora4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.compute.Transformer;
import io.qlora4j.model.data.Batch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Arrays;

/** Loading models, reading golden files and computing logits for the model-level tests. */
public final class ModelFixtures {

    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelFixtures() {
    }

    /** Loads a model folder or llama2.c file in {@code format}. */
    public static LlamaModel load(Path path, WeightFormat format) {
        try (ModelFiles files = ModelFiles.open(path)) {
            return ModelLoader.load(files, format).model();
        }
    }

    /** The logits (T, V) of one sequence, every position, from the training pass. */
    public static float[] logits(LlamaModel model, AdapterContext adapters, int[] ids) {
        int[] labels = new int[ids.length];
        Arrays.fill(labels, Batch.IGNORE_INDEX);
        return new Transformer(model).logits(new Batch(1, ids.length, ids, labels, new long[]{0}, 0), adapters);
    }

    /** A file or folder of this module's test resources. */
    public static Path resource(String name) {
        try {
            return Path.of(ModelFixtures.class.getResource("/" + name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("test resource " + name + " is missing", e);
        }
    }

    public static JsonNode json(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static int[] ints(JsonNode array) {
        return JSON.convertValue(array, int[].class);
    }

    /** A (rows, cols) JSON array of arrays, flattened row-major. */
    public static double[] matrix(JsonNode rows) {
        return Arrays.stream(JSON.convertValue(rows, double[][].class)).flatMapToDouble(Arrays::stream).toArray();
    }

    /** Largest absolute elementwise difference. */
    public static double maxAbsDiff(double[] expected, float[] actual) {
        double m = 0;
        for (int i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(expected[i] - actual[i]));
        return m;
    }

    public static double maxAbsDiff(float[] expected, float[] actual) {
        double m = 0;
        for (int i = 0; i < expected.length; i++) m = Math.max(m, Math.abs(expected[i] - actual[i]));
        return m;
    }
}
