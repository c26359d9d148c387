package io.qlora4j.model.data;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One record of a dataset file before rendering: its offset (0-based record index: the line index of a JSONL file,
 * the element index of a JSON array, the story index of a text file), the 1-based line it starts on, and either its
 * JSON value, its text (text files), or the reason it could not be parsed.
 *
 * @param json  the parsed record, or null for text-file records and malformed records
 * @param text  the record of a text file, or null
 * @param error why the record is malformed, or null
 */
public record DatasetRecord(long offset, long line, JsonNode json, String text, String error) {

    public boolean malformed() {
        return error != null;
    }

    static DatasetRecord ofJson(long offset, long line, JsonNode json) {
        return new DatasetRecord(offset, line, json, null, null);
    }

    static DatasetRecord ofText(long offset, long line, String text) {
        return new DatasetRecord(offset, line, null, text, null);
    }

    static DatasetRecord malformed(long offset, long line, String error) {
        return new DatasetRecord(offset, line, null, null, error);
    }
}
