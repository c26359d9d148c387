package io.qlora4j.model.tokenizer.llama2c;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Learns a byte-pair-encoding vocabulary in llama2.c's format from a text corpus, so that the project can build a
 * tokenizer of its own (the embedded default model). Words are the runs of text that start at a space (llama2.c's
 * encoder prepends a space, and its merges never need to cross one); the most frequent adjacent pair of pieces is merged
 * repeatedly, ties broken by the pair's text so the result is deterministic. Layout as Karpathy's tokenizers: {@code
 * <unk>}, BOS, EOS, the 256 byte-fallback tokens {@code <0xXX>}, the corpus's single characters, then the merges with
 * decreasing scores (llama2.c merges the highest score first).
 */
public final class BpeTrainer {

    private static final int FIRST_BYTE_ID = 3;

    private BpeTrainer() {
    }

    public static Llama2cVocab train(List<String> corpus, int merges, Path source) {
        Map<String, Integer> wordCounts = new HashMap<>();
        TreeSet<String> chars = new TreeSet<>();
        for (String text : corpus) {
            String t = " " + text;
            int start = 0;
            for (int i = 1; i <= t.length(); i++) {
                if (i == t.length() || t.charAt(i) == ' ') {
                    wordCounts.merge(t.substring(start, i), 1, Integer::sum);
                    start = i;
                }
            }
            t.codePoints().forEach(cp -> chars.add(new String(Character.toChars(cp))));
        }
        Map<String, List<String>> words = new LinkedHashMap<>();
        for (String w : new TreeSet<>(wordCounts.keySet())) {
            List<String> pieces = new ArrayList<>();
            w.codePoints().forEach(cp -> pieces.add(new String(Character.toChars(cp))));
            words.put(w, pieces);
        }
        List<String> mergedPieces = new ArrayList<>();
        for (int m = 0; m < merges; m++) {
            Map<String, Integer> pairCounts = new HashMap<>();
            for (var e : words.entrySet()) {
                List<String> p = e.getValue();
                for (int i = 0; i + 1 < p.size(); i++) pairCounts.merge(p.get(i) + "\u0000" + p.get(i + 1), wordCounts.get(e.getKey()), Integer::sum);
            }
            String best = null;
            int bestCount = 1;
            for (var e : pairCounts.entrySet()) {
                if (e.getValue() > bestCount || (e.getValue() == bestCount && best != null && e.getKey().compareTo(best) < 0)) {
                    best = e.getKey();
                    bestCount = e.getValue();
                }
            }
            if (best == null) break;   // no pair occurs twice
            String left = best.substring(0, best.indexOf('\u0000'));
            String right = best.substring(best.indexOf('\u0000') + 1);
            String merged = left + right;
            mergedPieces.add(merged);
            for (List<String> p : words.values()) {
                for (int i = 0; i + 1 < p.size(); i++) {
                    if (p.get(i).equals(left) && p.get(i + 1).equals(right)) {
                        p.set(i, merged);
                        p.remove(i + 1);
                    }
                }
            }
        }
        List<String> pieces = new ArrayList<>(List.of("<unk>", "\n<s>\n", "\n</s>\n"));
        List<Float> scores = new ArrayList<>(List.of(0f, 0f, 0f));
        for (int b = 0; b < 256; b++) {
            pieces.add(String.format("<0x%02X>", b));
            scores.add(0f);
        }
        for (String c : chars) {
            pieces.add(c);
            scores.add(-1e6f);
        }
        for (int i = 0; i < mergedPieces.size(); i++) {
            if (pieces.contains(mergedPieces.get(i))) continue;
            pieces.add(mergedPieces.get(i));
            scores.add((float) -i);
        }
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) s[i] = scores.get(i);
        boolean[] special = new boolean[pieces.size()];
        special[0] = special[1] = special[2] = true;
        assert pieces.get(FIRST_BYTE_ID).equals("<0x00>");
        return new Llama2cVocab(pieces.toArray(String[]::new), s, 0, Llama2cVocab.LLAMA2C_BOS, Llama2cVocab.LLAMA2C_EOS,
                special, source);
    }
}
