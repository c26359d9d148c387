package io.qlora4j.model.tokenizer.hf;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The {@code added_tokens} of a {@code tokenizer.json} and how they are cut out of the input before the model sees
 * it: HF {@code tokenizers} {@code AddedVocabulary::find_matches}. Tokens with {@code normalized: false} are matched in
 * the raw text, the others in the normalized text (their own content normalized the same way). Matching is
 * leftmost-longest and non-overlapping; a {@code single_word} token only matches between non-word characters (a
 * rejected match is skipped, not retried shorter); {@code lstrip}/{@code rstrip} make the token swallow the
 * whitespace on its left/right.
 */
final class AddedVocabulary {
    /** One entry of {@code added_tokens}. */
    record AddedToken(int id, String content, boolean singleWord, boolean lstrip, boolean rstrip, boolean normalized,
                      boolean special) {
    }

    /** A piece of a segment: an added token ({@code id >= 0}) or text for the model ({@code id == -1}). */
    record Split(int start, int end, int id) {
    }

    private static final Pattern WORD_CHAR = Pattern.compile("\\w", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern WHITESPACE = Pattern.compile("\\s", Pattern.UNICODE_CHARACTER_CLASS);

    private final Map<Integer, AddedToken> byId = new HashMap<>();
    private final Map<String, Integer> byContent = new HashMap<>();
    private final Matcher raw;
    private final Matcher normalized;

    AddedVocabulary(List<AddedToken> tokens, Normalizer normalizer) {
        List<AddedToken> rawTokens = new ArrayList<>();
        List<AddedToken> normalizedTokens = new ArrayList<>();
        List<String> normalizedPatterns = new ArrayList<>();
        for (AddedToken t : tokens) {
            byId.put(t.id(), t);
            byContent.put(t.content(), t.id());
            if (t.normalized()) {
                normalizedTokens.add(t);
                normalizedPatterns.add(normalizer.normalize(NormalizedText.of(t.content(), 0, t.content().length())).text());
            } else {
                rawTokens.add(t);
            }
        }
        this.raw = new Matcher(rawTokens, rawTokens.stream().map(AddedToken::content).toList());
        this.normalized = new Matcher(normalizedTokens, normalizedPatterns);
    }

    AddedToken get(int id) {
        return byId.get(id);
    }

    Integer idOf(String content) {
        return byContent.get(content);
    }

    int maxId() {
        return byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1);
    }

    /** Splits {@code text} on the tokens matched in raw text. */
    List<Split> splitRaw(String text) {
        return raw.split(text);
    }

    /** Splits normalized text on the tokens matched after normalization. */
    List<Split> splitNormalized(String normalizedText) {
        return normalized.split(normalizedText);
    }

    /** Leftmost-longest matching of a set of patterns, with each token's word and whitespace options. */
    private static final class Matcher {
        private final Map<Character, List<Candidate>> byFirstChar = new HashMap<>();

        private record Candidate(String pattern, AddedToken token) {
        }

        Matcher(List<AddedToken> tokens, List<String> patterns) {
            for (int i = 0; i < tokens.size(); i++) {
                String p = patterns.get(i);
                if (!p.isEmpty()) {
                    byFirstChar.computeIfAbsent(p.charAt(0), c -> new ArrayList<>()).add(new Candidate(p, tokens.get(i)));
                }
            }
            // Longest first; among equal patterns the earlier token wins, as the reference's trie keeps the first.
            byFirstChar.values().forEach(l -> l.sort(Comparator.comparingInt((Candidate c) -> -c.pattern().length())));
        }

        List<Split> split(String s) {
            List<Split> splits = new ArrayList<>();
            if (byFirstChar.isEmpty() || s.isEmpty()) {
                splits.add(new Split(0, s.length(), -1));
                return splits;
            }
            int startOffset = 0;
            int i = 0;
            while (i < s.length()) {
                Candidate match = longestAt(s, i);
                if (match == null) {
                    i++;
                    continue;
                }
                int start = i;
                int stop = i + match.pattern().length();
                i = stop;
                AddedToken t = match.token();
                if (t.singleWord() && !(isWordBoundaryBefore(s, start) && isWordBoundaryAfter(s, stop))) {
                    continue;
                }
                if (t.lstrip()) {
                    int newStart = start;
                    while (newStart > startOffset && WHITESPACE.matcher(String.valueOf(s.charAt(newStart - 1))).matches()) {
                        newStart--;
                    }
                    start = newStart;
                }
                if (t.rstrip()) {
                    while (stop < s.length() && WHITESPACE.matcher(String.valueOf(s.charAt(stop))).matches()) {
                        stop++;
                    }
                    i = stop;
                }
                if (startOffset < start) {
                    splits.add(new Split(startOffset, start, -1));
                }
                splits.add(new Split(start, stop, t.id()));
                startOffset = stop;
            }
            if (startOffset < s.length()) {
                splits.add(new Split(startOffset, s.length(), -1));
            }
            return splits;
        }

        private Candidate longestAt(String s, int i) {
            List<Candidate> candidates = byFirstChar.get(s.charAt(i));
            if (candidates != null) {
                for (Candidate c : candidates) {
                    if (s.startsWith(c.pattern(), i)) {
                        return c;
                    }
                }
            }
            return null;
        }

        private static boolean isWordBoundaryBefore(String s, int start) {
            if (start == 0) {
                return true;
            }
            int cp = s.codePointBefore(start);
            return !WORD_CHAR.matcher(Character.toString(cp)).matches();
        }

        private static boolean isWordBoundaryAfter(String s, int stop) {
            if (stop == s.length()) {
                return true;
            }
            int cp = s.codePointAt(stop);
            return !WORD_CHAR.matcher(Character.toString(cp)).matches();
        }
    }
}
