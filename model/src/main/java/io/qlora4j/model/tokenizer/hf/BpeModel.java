package io.qlora4j.model.tokenizer.hf;

import io.qlora4j.model.tokenizer.PairMerger;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The {@code "model": {"type": "BPE"}} of a {@code tokenizer.json}: HF {@code tokenizers} {@code models::bpe::BPE}
 * ({@code merge_word} + {@code Word::merge_all}) without dropout, continuing-subword prefix or end-of-word suffix
 * (those are refused when the file is read).
 *
 * <p>A word becomes one symbol per code point (its vocabulary id); a code point not in the vocabulary becomes its
 * UTF-8 byte tokens {@code <0xXX>} when {@code byte_fallback} is on and they all exist, else the unknown token
 * (consecutive ones fused into one when {@code fuse_unk}), else it is dropped, as the reference does when no
 * {@code unk_token} is set. Then pairs merge by rank ({@link PairMerger}). With {@code ignore_merges} a word that is
 * itself in the vocabulary is that one token.
 *
 * <p>One deliberate difference: when {@code byte_fallback} is on but a byte token is missing, the reference appends a
 * pending unknown token after the byte tokens of the characters that follow it; here tokens stay in text order. A
 * vocabulary with all 256 byte tokens (both real files) never reaches that case.
 */
final class BpeModel {
    private final Map<String, Integer> vocab;
    private final PairRanks merges;
    private final int unkId;              // -1 when unk_token is null
    private final boolean fuseUnk;
    private final boolean byteFallback;
    private final boolean ignoreMerges;
    private final int[] byteIds;          // (256) id of <0xXX> for each byte, -1 when absent
    private final PairMerger.MergeTable mergeTable;

    BpeModel(Map<String, Integer> vocab, PairRanks merges, int unkId, boolean fuseUnk, boolean byteFallback,
             boolean ignoreMerges) {
        this.vocab = vocab;
        this.merges = merges;
        this.unkId = unkId;
        this.fuseUnk = fuseUnk;
        this.byteFallback = byteFallback;
        this.ignoreMerges = ignoreMerges;
        this.byteIds = new int[256];
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.format("<0x%02X>", b));
            byteIds[b] = id == null ? -1 : id;
        }
        this.mergeTable = (left, right) -> this.merges.get(PairRanks.pair(left, right));
    }

    Map<String, Integer> vocab() {
        return vocab;
    }

    /** Appends the tokens of {@code word} to {@code out}, with spans mapped to the original input. */
    void tokenize(NormalizedText word, TokenSink out) {
        String w = word.text();
        if (w.isEmpty()) {
            return;
        }
        if (ignoreMerges) {
            Integer id = vocab.get(w);
            if (id != null) {
                out.add(id, word.originalStart(0, w.length()), word.originalEnd(0, w.length()));
                return;
            }
        }
        int capacity = byteFallback ? 4 * w.length() : w.length();
        int[] ids = new int[capacity];
        int[] starts = new int[capacity]; // (capacity) span of each symbol in units of w
        int[] ends = new int[capacity];
        int n = 0;
        int pendingUnkStart = -1; // a fused unknown run not yet added
        int pendingUnkEnd = -1;
        for (int i = 0; i < w.length(); ) {
            int len = Character.charCount(w.codePointAt(i));
            String ch = w.substring(i, i + len);
            Integer id = vocab.get(ch);
            int[] fallback = id == null && byteFallback ? byteTokens(ch) : null;
            if (id != null || fallback != null) {
                if (pendingUnkStart >= 0) {
                    ids[n] = unkId;
                    starts[n] = pendingUnkStart;
                    ends[n++] = pendingUnkEnd;
                    pendingUnkStart = -1;
                }
                int count = id != null ? 1 : fallback.length;
                for (int k = 0; k < count; k++) {
                    ids[n] = id != null ? id : fallback[k];
                    starts[n] = i;
                    ends[n++] = i + len;
                }
            } else if (unkId >= 0) {
                if (pendingUnkStart >= 0 && fuseUnk) {
                    pendingUnkEnd = i + len;
                } else {
                    if (pendingUnkStart >= 0) {
                        ids[n] = unkId;
                        starts[n] = pendingUnkStart;
                        ends[n++] = pendingUnkEnd;
                    }
                    pendingUnkStart = i;
                    pendingUnkEnd = i + len;
                }
            }
            i += len;
        }
        if (pendingUnkStart >= 0) {
            ids[n] = unkId;
            starts[n] = pendingUnkStart;
            ends[n++] = pendingUnkEnd;
        }
        n = PairMerger.mergeAll(ids, starts, ends, n, mergeTable);
        for (int k = 0; k < n; k++) {
            out.add(ids[k], word.originalStart(starts[k], ends[k]), word.originalEnd(starts[k], ends[k]));
        }
    }

    /** The {@code <0xXX>} ids of the UTF-8 bytes of {@code ch}, or null if one of them is not in the vocabulary. */
    private int[] byteTokens(String ch) {
        byte[] bytes = ch.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int k = 0; k < bytes.length; k++) {
            ids[k] = byteIds[bytes[k] & 0xFF];
            if (ids[k] < 0) {
                return null;
            }
        }
        return ids;
    }

    /** Receives tokens with their original spans. */
    interface TokenSink {
        void add(int id, int start, int end);
    }
}
