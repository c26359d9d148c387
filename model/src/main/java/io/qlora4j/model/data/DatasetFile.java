package io.qlora4j.model.data;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * A dataset file read record by record, lazily: JSON Lines ({@code .jsonl}, one record per line), a JSON array
 * ({@code .json} starting with {@code [}), or plain text ({@code .txt}, records separated by {@code <|endoftext|>} as in
 * TinyStories, else the whole file as one record). Each record carries a stable offset, so a reader can start anywhere
 * ({@link #records(long, int, int)}), shard the file across trainers, and resume after a crash without repeating or
 * skipping a record. A malformed line becomes a malformed record (file and line in its error) rather than an exception,
 * so the caller decides to skip or stop.
 */
public final class DatasetFile {

    /** The separator of TinyStories-style text files. */
    public static final String END_OF_TEXT = "<|endoftext|>";
    private static final ObjectMapper JSON = new ObjectMapper();

    public enum Kind {JSON_LINES, JSON_ARRAY, TEXT}

    private final Path path;
    private final Kind kind;

    private DatasetFile(Path path, Kind kind) {
        this.path = path;
        this.kind = kind;
    }

    /** Opens a dataset file: it must exist, be readable and hold at least one non-blank character. */
    public static DatasetFile open(Path path) {
        if (!Files.isRegularFile(path)) {
            throw new DataException(path + ": no such dataset file");
        }
        String name = path.getFileName().toString();
        Kind kind;
        if (name.endsWith(".txt")) {
            kind = Kind.TEXT;
        } else {
            int first = firstNonBlank(path);
            if (first < 0) throw new DataException(path + ": the dataset is empty (no records)");
            kind = first == '[' ? Kind.JSON_ARRAY : Kind.JSON_LINES;
        }
        return new DatasetFile(path, kind);
    }

    public Path path() {
        return path;
    }

    public Kind kind() {
        return kind;
    }

    /** All records from offset 0. */
    public Stream<DatasetRecord> records() {
        return records(0, 0, 1);
    }

    /**
     * Records with {@code offset >= startOffset} and {@code offset % shardCount == shardIndex}, lazily. Close the stream.
     */
    public Stream<DatasetRecord> records(long startOffset, int shardIndex, int shardCount) {
        if (shardCount < 1 || shardIndex < 0 || shardIndex >= shardCount) {
            throw new IllegalArgumentException("shard " + shardIndex + " of " + shardCount + ": need 0 <= index < count");
        }
        Iterator<DatasetRecord> all = switch (kind) {
            case JSON_LINES -> new JsonLinesIterator(path);
            case JSON_ARRAY -> new JsonArrayIterator(path);
            case TEXT -> textRecords().iterator();
        };
        Stream<DatasetRecord> s = StreamSupport.stream(Spliterators.spliteratorUnknownSize(all, 0), false);
        if (all instanceof AutoCloseable c) {
            s = s.onClose(() -> {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new UncheckedIOException(new IOException(e));
                }
            });
        }
        return s.filter(r -> r.offset() >= startOffset && r.offset() % shardCount == shardIndex);
    }

    /** Number of records (well-formed and malformed). */
    public long countRecords() {
        try (Stream<DatasetRecord> s = records()) {
            return s.count();
        }
    }

    /** The format of the first well-formed record, if it looks like one of the known formats. */
    public Optional<DataFormat> detectFormat() {
        if (kind == Kind.TEXT) return Optional.of(DataFormat.TEXT);
        try (Stream<DatasetRecord> s = records()) {
            return s.filter(r -> !r.malformed()).findFirst().flatMap(r -> DataFormat.detect(r.json()));
        }
    }

    private List<DatasetRecord> textRecords() {
        String text = readUtf8(path);
        List<DatasetRecord> out = new ArrayList<>();
        String[] parts = text.contains(END_OF_TEXT) ? text.split(java.util.regex.Pattern.quote(END_OF_TEXT), -1) : new String[]{text};
        long line = 1;
        long offset = 0;
        for (String part : parts) {
            String story = part.strip();
            if (!story.isEmpty()) out.add(DatasetRecord.ofText(offset++, line + leadingNewlines(part), story));
            line += part.chars().filter(c -> c == '\n').count();
        }
        if (out.isEmpty()) throw new DataException(path + ": the dataset is empty (no records)");
        return out;
    }

    private static long leadingNewlines(String s) {
        long n = 0;
        for (int i = 0; i < s.length() && Character.isWhitespace(s.charAt(i)); i++) if (s.charAt(i) == '\n') n++;
        return n;
    }

    static String readUtf8(Path path) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(path))).toString();
        } catch (CharacterCodingException e) {
            throw new DataException(path + ": not UTF-8 text", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    private static int firstNonBlank(Path path) {
        try (InputStream in = Files.newInputStream(path)) {
            int c;
            while ((c = in.read()) >= 0) {
                if (!Character.isWhitespace(c) && c != 0xEF && c != 0xBB && c != 0xBF) return c;   // skip a UTF-8 BOM
            }
            return -1;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    /** One record per line; blank lines are skipped but keep their offset, so offsets stay line indexes. */
    private static final class JsonLinesIterator implements Iterator<DatasetRecord>, AutoCloseable {
        private final Path path;
        private final BufferedReader reader;
        private long lineIndex = -1;
        private DatasetRecord next;

        JsonLinesIterator(Path path) {
            this.path = path;
            try {
                this.reader = new BufferedReader(new java.io.InputStreamReader(Files.newInputStream(path),
                        StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
            }
        }

        @Override
        public boolean hasNext() {
            while (next == null) {
                String line;
                try {
                    line = reader.readLine();
                } catch (CharacterCodingException e) {
                    throw new DataException(path + ":" + (lineIndex + 2) + ": not UTF-8 text", e);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
                }
                if (line == null) return false;
                lineIndex++;
                if (line.isBlank()) continue;
                try {
                    JsonNode node = JSON.readTree(line);
                    next = node != null && node.isObject() ? DatasetRecord.ofJson(lineIndex, lineIndex + 1, node)
                            : DatasetRecord.malformed(lineIndex, lineIndex + 1,
                            path + ":" + (lineIndex + 1) + ": a record must be a JSON object");
                } catch (JsonProcessingException e) {
                    next = DatasetRecord.malformed(lineIndex, lineIndex + 1,
                            path + ":" + (lineIndex + 1) + ": malformed JSON (" + e.getOriginalMessage() + ")");
                }
            }
            return true;
        }

        @Override
        public DatasetRecord next() {
            if (!hasNext()) throw new NoSuchElementException();
            DatasetRecord r = next;
            next = null;
            return r;
        }

        @Override
        public void close() throws IOException {
            reader.close();
        }
    }

    /** Elements of a top-level JSON array, streamed; a syntax error ends the file with one malformed record. */
    private static final class JsonArrayIterator implements Iterator<DatasetRecord>, AutoCloseable {
        private final Path path;
        private final JsonParser parser;
        private long index = 0;
        private DatasetRecord next;
        private boolean done;

        JsonArrayIterator(Path path) {
            this.path = path;
            try {
                this.parser = JSON.createParser(path.toFile());
                if (parser.nextToken() != JsonToken.START_ARRAY) throw new DataException(path + ": expected a JSON array");
            } catch (IOException e) {
                throw new DataException(path + ": malformed JSON (" + e.getMessage() + ")", e);
            }
        }

        @Override
        public boolean hasNext() {
            if (next != null) return true;
            if (done) return false;
            long line = parser.currentLocation().getLineNr();
            try {
                JsonToken t = parser.nextToken();
                if (t == JsonToken.END_ARRAY || t == null) {
                    done = true;
                    return false;
                }
                line = parser.currentLocation().getLineNr();
                JsonNode node = parser.readValueAsTree();
                next = node != null && node.isObject() ? DatasetRecord.ofJson(index, line, node)
                        : DatasetRecord.malformed(index, line, path + ":" + line + ": array element " + index + " is not a JSON object");
            } catch (IOException e) {
                done = true;
                next = DatasetRecord.malformed(index, line, path + ":" + line + ": malformed JSON ("
                        + (e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage())
                        + "); the rest of the array cannot be read");
            }
            index++;
            return true;
        }

        @Override
        public DatasetRecord next() {
            if (!hasNext()) throw new NoSuchElementException();
            DatasetRecord r = next;
            next = null;
            return r;
        }

        @Override
        public void close() throws IOException {
            parser.close();
        }
    }
}
