package io.qlora4j.actors.demo;

import io.qlora4j.model.LlamaModel;
import io.qlora4j.model.compute.AdapterContext;
import io.qlora4j.model.infer.Generator;
import io.qlora4j.model.infer.SamplingOptions;
import io.qlora4j.model.tokenizer.Tokenizer;

import java.util.List;

/**
 * Exact-match accuracy of greedy answers: for each question the model continues the prompt (temperature 0, a few
 * tokens, stopping at EOS, a period or a newline) and the first word of its answer must equal the expected answer.
 */
public final class ExactMatch {

    /** Accuracy and one example answer for the report. */
    public record Result(double accuracy, int correct, int total, String examplePrompt, String exampleAnswer) {
    }

    private ExactMatch() {
    }

    public static Result evaluate(LlamaModel model, AdapterContext adapters, Tokenizer tokenizer, List<DemoWorld.Question> questions) {
        Generator generator = new Generator(model, tokenizer, adapters);
        SamplingOptions greedy = new SamplingOptions(0, 0, 1, 1, 0, 4, List.of(".", "\n"));
        int correct = 0;
        String exampleAnswer = null;
        for (DemoWorld.Question q : questions) {
            String text = generator.generate(tokenizer.encode(q.prompt(), true), greedy, piece -> {
            }).text();
            String answer = firstWord(text);
            if (exampleAnswer == null) exampleAnswer = text.strip();
            if (answer.equals(q.answer())) correct++;
        }
        return new Result((double) correct / questions.size(), correct, questions.size(), questions.getFirst().prompt(),
                exampleAnswer);
    }

    static String firstWord(String text) {
        String t = text.strip();
        int end = 0;
        while (end < t.length() && Character.isLetter(t.charAt(end))) end++;
        return t.substring(0, end);
    }
}
