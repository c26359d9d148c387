package io.qlora4j.model.infer;

import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.compute.InferenceSession;
import io.qlora4j.model.tokenizer.Tokenizer;

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
