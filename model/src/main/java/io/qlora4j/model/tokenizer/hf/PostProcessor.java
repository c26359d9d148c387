package io.qlora4j.model.tokenizer.hf;

import java.util.List;

/**
 * The {@code post_processor} of a {@code tokenizer.json} for single sequences: HF {@code tokenizers}
 * {@code processors::template::TemplateProcessing} ({@code "single"} template: special tokens around sequence
 * {@code $A}), applied only when special tokens are requested. No post-processor is the template {@code [$A]}.
 * Other processors (ByteLevel, RobertaProcessing, BertProcessing, Sequence) are refused when the file is read.
 *
 * @param single the pieces of the single-sequence template in order
 */
record PostProcessor(List<Piece> single) {
    /** {@code "post_processor": null}. */
    static final PostProcessor NONE = new PostProcessor(List.of(new Piece.SequenceA()));

    PostProcessor {
        single = List.copyOf(single);
    }

    /** One item of a template. */
    sealed interface Piece {
        /** The encoded sequence {@code $A}. */
        record SequenceA() implements Piece {
        }

        /** A special token with its ids ({@code special_tokens[name].ids}). */
        record Special(String name, int[] ids) implements Piece {
        }
    }

    /**
     * The final ids: the template applied to {@code sequence} when {@code addSpecialTokens}, else {@code sequence}
     * as is. Added special tokens get an empty span at the end of the token before them (0 at the start).
     */
    void apply(IntList ids, IntList starts, IntList ends, boolean addSpecialTokens, IntList outIds, IntList outStarts,
               IntList outEnds) {
        for (Piece piece : addSpecialTokens ? single : NONE.single) {
            switch (piece) {
                case Piece.SequenceA a -> {
                    for (int i = 0; i < ids.size(); i++) {
                        outIds.add(ids.get(i));
                        outStarts.add(starts.get(i));
                        outEnds.add(ends.get(i));
                    }
                }
                case Piece.Special s -> {
                    int at = outEnds.size() == 0 ? 0 : outEnds.get(outEnds.size() - 1);
                    for (int id : s.ids()) {
                        outIds.add(id);
                        outStarts.add(at);
                        outEnds.add(at);
                    }
                }
            }
        }
    }
}
