package io.qlora4j.actors.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A small synthetic world for the embedded default run: children, their toys and the toys' colors. It writes two
 * things, both a pure function of a seed:
 * <ul>
 *   <li>a pretraining corpus of short stories ("Ann has a red ball. Ann went to the park with the ball. ..."), on which
 *       the base model is trained from scratch: it learns the language and who-has-what statements;</li>
 *   <li>a question-answering task the base has never seen: a short context, then {@code Question: What color is the ball
 *       of Ann? Answer:} and the color. The base continues such a prompt with more story, so it scores 0% exact match
 *       before fine-tuning.</li>
 * </ul>
 */
public final class DemoWorld {

    static final String[] NAMES = {"Ann", "Ben", "Tom", "Mia", "Sam", "Lily", "Max", "Zoe", "Leo", "Eva", "Jack", "Nora",
            "Finn", "Ruby", "Owen", "Ivy"};
    static final String[] TOYS = {"ball", "kite", "hat", "cup", "book", "box", "bike", "drum", "boat", "doll", "sock", "bell"};
    static final String[] COLORS = {"red", "blue", "green", "yellow", "pink", "black", "white", "brown"};
    static final String[] PLACES = {"park", "garden", "school", "beach", "forest", "kitchen"};

    /** One task example: the prompt (context, question, "Answer:") and the expected answer (a color). */
    public record Question(String prompt, String answer) {
    }

    private DemoWorld() {
    }

    /** {@code count} stories of 3 to 7 sentences. */
    public static List<String> stories(long seed, int count) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<String> out = new ArrayList<>(count);
        for (int s = 0; s < count; s++) {
            String a = pick(rnd, NAMES), b = other(rnd, NAMES, a);
            String toy = pick(rnd, TOYS), toy2 = other(rnd, TOYS, toy);
            String c = pick(rnd, COLORS), c2 = pick(rnd, COLORS);
            String place = pick(rnd, PLACES);
            List<String> sentences = new ArrayList<>();
            sentences.add(a + " has a " + c + " " + toy + ".");
            boolean second = rnd.nextBoolean();
            if (second) sentences.add(b + " has a " + c2 + " " + toy2 + ".");
            int extra = 2 + rnd.nextInt(4);
            for (int i = 0; i < extra; i++) {
                // most sentences mention a toy again with its color: learning them takes looking back (copying)
                boolean aboutB = second && rnd.nextBoolean();
                String who = aboutB ? b : a, what = aboutB ? toy2 : toy, color = aboutB ? c2 : c, friend = aboutB ? a : b;
                sentences.add(switch (rnd.nextInt(8)) {
                    case 0 -> who + " went to the " + place + " with the " + color + " " + what + ".";
                    case 1, 2 -> "The " + what + " of " + who + " is " + color + ".";
                    case 3 -> who + " and " + friend + " played in the " + place + ".";
                    case 4 -> who + " liked the " + color + " " + what + ".";
                    case 5 -> friend + " saw the " + color + " " + what + " of " + who + ".";
                    case 6 -> who + " gave the " + color + " " + what + " to " + friend + ".";
                    default -> "It was a sunny day in the " + place + ".";
                });
            }
            out.add(String.join(" ", sentences));
        }
        return out;
    }

    /**
     * {@code count} task questions: a child with a toy, another child somewhere, and a question about the toy's color.
     * The answer has to be found in the context (the base has learned to carry a color along a story) and given in a
     * format the base has never seen.
     */
    public static List<Question> questions(long seed, int count) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Question> out = new ArrayList<>(count);
        for (int q = 0; q < count; q++) {
            String a = pick(rnd, NAMES), b = other(rnd, NAMES, a);
            String toy = pick(rnd, TOYS), color = pick(rnd, COLORS), place = pick(rnd, PLACES);
            String fact = a + " has a " + color + " " + toy + ".";
            String other = b + " went to the " + place + ".";
            String context = rnd.nextBoolean() ? fact + " " + other : other + " " + fact;
            out.add(new Question(context + " Question: What color is the " + toy + " of " + a + "? Answer:", color));
        }
        return out;
    }

    private static String pick(SplittableRandom rnd, String[] options) {
        return options[rnd.nextInt(options.length)];
    }

    private static String other(SplittableRandom rnd, String[] options, String not) {
        String s;
        do {
            s = pick(rnd, options);
        } while (s.equals(not));
        return s;
    }
}
