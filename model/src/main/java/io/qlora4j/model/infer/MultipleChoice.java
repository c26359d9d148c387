package io.qlora4j.model.infer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.compute.InferenceSession;
import io.qlora4j.model.tokenizer.Tokenizer;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Multiple-choice accuracy as qlora.py's MMLU evaluation computes it (QLORA-REFERENCE.md §5.5): for each question the
 * prompt (BOS + the question, which ends in "Answer:") goes through the model, and the answer is the letter among
 * A/B/C/D whose first token ({@code tokenizer("A", add_special_tokens=False)[0]}) has the largest logit at the last
 * position. The reported accuracy is the unweighted mean of the per-subject accuracies. A prompt longer than the context
 * keeps its last tokens (the question's end and "Answer:").
 */
public final class MultipleChoice {

    /** One question: its subject, the prompt, and the correct letter. */
    public record Question(String subject, String prompt, String answer) {
    }

    /** Per-subject accuracy and their unweighted mean. */
    public record Result(double accuracy, int questions, Map<String, Double> perSubject) {
    }

    private static final String[] LETTERS = {"A", "B", "C", "D"};

    private MultipleChoice() {
    }

    /**
     * The first {@code limit} questions of a JSON-lines file of {@code {"subject", "input", "output"}} records (qlora.py's
     * MMLU files: the prompt in {@code input}, the answer letter in {@code output}).
     */
    public static List<Question> readQuestions(Path file, int limit) {
        ObjectMapper json = new ObjectMapper();
        List<Question> out = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file)) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null && out.size() < limit) {
                n++;
                if (line.isBlank()) continue;
                JsonNode q;
                try {
                    q = json.readTree(line);
                } catch (JsonProcessingException e) {
                    throw new IllegalArgumentException(file + ":" + n + ": malformed JSON (" + e.getOriginalMessage() + ")", e);
                }
                if (!q.hasNonNull("input") || !q.hasNonNull("output")) {
                    throw new IllegalArgumentException(file + ":" + n + ": a multiple-choice record needs 'input' (the prompt) and 'output' (the answer letter)");
                }
                out.add(new Question(q.path("subject").asText("all"), q.get("input").asText(), q.get("output").asText()));
            }
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read multiple-choice questions (" + e.getMessage() + ")", e);
        }
        if (out.isEmpty()) throw new IllegalArgumentException(file + ": no multiple-choice questions");
        return out;
    }

    public static Result evaluate(LlamaModel model, AdapterContext adapters, Tokenizer tokenizer, List<Question> questions) {
        if (questions.isEmpty()) throw new IllegalArgumentException("no questions to evaluate");
        int[] letterIds = new int[LETTERS.length];
        for (int i = 0; i < LETTERS.length; i++) {
            int[] ids = tokenizer.encode(LETTERS[i], false);
            if (ids.length == 0) throw new IllegalArgumentException("the tokenizer has no token for '" + LETTERS[i] + "'");
            letterIds[i] = ids[0];
        }
        int context = model.config().maxPositions();
        Map<String, int[]> counts = new TreeMap<>();   // subject -> {correct, total}
        for (Question q : questions) {
            int[] ids = tokenizer.encode(q.prompt(), true);
            if (ids.length > context) ids = Arrays.copyOfRange(ids, ids.length - context, ids.length);
            float[] logits = new InferenceSession(model, adapters, ids.length).append(ids);
            int best = 0;
            for (int i = 1; i < letterIds.length; i++) if (logits[letterIds[i]] > logits[letterIds[best]]) best = i;
            int[] c = counts.computeIfAbsent(q.subject(), s -> new int[2]);
            if (LETTERS[best].equals(q.answer().strip())) c[0]++;
            c[1]++;
        }
        Map<String, Double> perSubject = new TreeMap<>();
        counts.forEach((s, c) -> perSubject.put(s, (double) c[0] / c[1]));
        double mean = perSubject.values().stream().mapToDouble(Double::doubleValue).average().orElse(0);
        return new Result(mean, questions.size(), perSubject);
    }
}
