package io.qlora4j.model.data;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Locale;
import java.util.Optional;

/**
 * The record layouts a dataset can have (QLORA-REFERENCE.md §5.4):
 * <ul>
 *   <li>{@link #ALPACA}: {@code {"instruction", "input", "output"}} rendered with the Stanford Alpaca prompt;</li>
 *   <li>{@link #GUANACO}: {@code {"text": "### Human: …### Assistant: …"}}, possibly several turns (OASST1 as
 *       timdettmers/openassistant-guanaco stores it);</li>
 *   <li>{@link #CHAT}: {@code {"messages": [{"role", "content"}, …]}} rendered with the tokenizer's chat template;</li>
 *   <li>{@link #INPUT_OUTPUT}: {@code {"input", "output"}} (qlora.py's format for local files and MMLU);</li>
 *   <li>{@link #TEXT}: {@code {"text"}} or a plain text file: every token is a target.</li>
 * </ul>
 */
public enum DataFormat {
    ALPACA, GUANACO, CHAT, INPUT_OUTPUT, TEXT;

    /** Lower-case name as written on the command line ("alpaca", "input-output"). */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public static DataFormat parse(String name) {
        for (DataFormat f : values()) {
            if (f.cliName().equals(name.toLowerCase(Locale.ROOT)) || f.name().equalsIgnoreCase(name)) return f;
        }
        throw new IllegalArgumentException("unknown data format '" + name + "': expected alpaca, guanaco, chat, input-output or text");
    }

    /** The format a JSON record looks like, if any: by its fields, and for {@code text} by the Guanaco markers. */
    public static Optional<DataFormat> detect(JsonNode record) {
        if (record == null || !record.isObject()) return Optional.empty();
        if (record.has("messages")) return Optional.of(CHAT);
        if (record.has("instruction") && record.has("output")) return Optional.of(ALPACA);
        if (record.has("input") && record.has("output")) return Optional.of(INPUT_OUTPUT);
        if (record.has("text")) {
            return Optional.of(record.path("text").asText().startsWith(GuanacoTurns.HUMAN) ? GUANACO : TEXT);
        }
        return Optional.empty();
    }
}
