package io.qlora4j.model.data;

import io.qlora4j.model.tokenizer.ChatMessage;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a Guanaco/OASST1 text ({@code ### Human: …### Assistant: …}, several turns possible) into messages. This
 * parses the input record; the training mask later comes from rendering these messages (see {@link ExampleRenderer}).
 */
final class GuanacoTurns {
    static final String HUMAN = "### Human:";
    static final String ASSISTANT = "### Assistant:";

    private GuanacoTurns() {
    }

    /** The turns of {@code text}, each message's content exactly as it follows its marker (leading space included). */
    static List<ChatMessage> parse(String text, String where) {
        List<ChatMessage> turns = new ArrayList<>();
        int pos = 0;
        if (!text.startsWith(HUMAN)) {
            throw new DataException(where + ": a Guanaco record must start with '" + HUMAN + "'");
        }
        while (pos < text.length()) {
            boolean human = text.startsWith(HUMAN, pos);
            boolean assistant = text.startsWith(ASSISTANT, pos);
            if (!human && !assistant) throw new IllegalStateException("parser out of step at " + pos);
            int contentStart = pos + (human ? HUMAN.length() : ASSISTANT.length());
            int next = nextMarker(text, contentStart);
            String content = text.substring(contentStart, next);
            turns.add(human ? ChatMessage.user(content) : ChatMessage.assistant(content));
            pos = next;
        }
        if (turns.stream().noneMatch(m -> m.role() == ChatMessage.Role.ASSISTANT)) {
            throw new DataException(where + ": a Guanaco record needs at least one '" + ASSISTANT + "' turn");
        }
        return turns;
    }

    private static int nextMarker(String text, int from) {
        int h = text.indexOf(HUMAN, from);
        int a = text.indexOf(ASSISTANT, from);
        int next = text.length();
        if (h >= 0) next = Math.min(next, h);
        if (a >= 0) next = Math.min(next, a);
        return next;
    }
}
