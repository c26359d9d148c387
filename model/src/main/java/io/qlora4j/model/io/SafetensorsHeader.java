package io.qlora4j.model.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.util.ByteBufferBackedInputStream;

import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parses and validates the header of a safetensors file: {@code u64 N} (little-endian), N bytes of UTF-8 JSON, then the
 * data buffer. Follows {@code safetensors/src/tensor.rs} ({@code SafeTensors::read_metadata}, {@code Metadata::validate})
 * and adds checks the reference leaves to serde: duplicate keys, unknown fields, a rank limit.
 *
 * <p>Nothing is allocated in proportion to a declared size before it is checked against the real file size: the JSON
 * is streamed straight from the mapping through a UTF-8 decoder with REPORT on malformed input, and Jackson's stream
 * constraints bound nesting and token sizes.
 *
 * @param headerLength N, a multiple of 8 when written by safetensors ≥ 0.3.1 (not required on read)
 * @param tensors      in file order (ascending data offset; header order for empty tensors sharing an offset)
 * @param metadata     the {@code __metadata__} map in header order, empty when absent
 */
record SafetensorsHeader(long headerLength, List<TensorInfo> tensors, Map<String, String> metadata) {
    /** {@code MAX_HEADER_SIZE} of tensor.rs. */
    static final long MAX_HEADER_LENGTH = 100_000_000L;
    /** More dimensions than numpy's NPY_MAXDIMS (64) cannot come from a real framework; bounds allocation per shape. */
    static final int MAX_RANK = 64;
    static final String METADATA_KEY = "__metadata__";

    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    // root object > tensor object > shape array; one more level so that a nested array inside a
                    // shape is reported by our own check, which names the tensor
                    .maxNestingDepth(4)
                    // u64 has 20 digits; a longer integer is not an offset or a dimension
                    .maxNumberLength(32)
                    .maxDocumentLength(MAX_HEADER_LENGTH)
                    .build())
            // Field names are tensor names, unique by construction: a symbol table would only give a hostile header
            // hash collisions to aim at.
            .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
            .build();

    private record Entry(String name, DType dtype, long[] shape, long begin, long end) {
    }

    /** Reads the header of {@code file} (the whole mapped file named {@code path}). */
    static SafetensorsHeader parse(Path path, MemorySegment file) {
        long fileSize = file.byteSize();
        if (fileSize < 8) {
            throw error(path, "file has " + fileSize + " bytes, fewer than the 8-byte header length",
                    "the file is empty or truncated, or not a safetensors file");
        }
        long n = file.get(TensorCodec.LE_LONG, 0);
        if (Long.compareUnsigned(n, MAX_HEADER_LENGTH) > 0) {
            throw error(path, "header length " + Long.toUnsignedString(n) + " exceeds the format's limit of "
                    + MAX_HEADER_LENGTH + " bytes", "the file is corrupt or not a safetensors file");
        }
        if (n > fileSize - 8) {
            throw error(path, "header length " + n + " exceeds the " + (fileSize - 8)
                    + " bytes that follow the length field", "the file is truncated or not a safetensors file");
        }
        if (n == 0 || file.get(ValueLayout.JAVA_BYTE, 8) != '{') {
            throw error(path, "header does not start with '{'" + (n == 0 ? " (it is empty)"
                            : String.format(" (first byte 0x%02x)", file.get(ValueLayout.JAVA_BYTE, 8))),
                    "not a safetensors file (a .bin/.pt pickle, a GGUF or a llama2.c checkpoint?)");
        }
        MemorySegment json = file.asSlice(8, n);
        List<Entry> entries = new ArrayList<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        try (Reader reader = new InputStreamReader(new ByteBufferBackedInputStream(json.asByteBuffer()),
                StandardCharsets.UTF_8.newDecoder());
             JsonParser parser = JSON.createParser(reader)) {
            parseRoot(path, parser, entries, metadata);
        } catch (CharacterCodingException e) {
            throw error(path, "header is not valid UTF-8 (" + e + ")", "the file is corrupt");
        } catch (JacksonException e) {
            long at = e.getLocation() == null ? -1 : e.getLocation().getCharOffset();
            // Jackson names nested locations with a "[Source: REDACTED ...; line" prefix: keep only line and column
            String detail = e.getOriginalMessage().replaceAll("\\[Source: .*?; line", "[line");
            throw error(path, "header is not valid JSON" + (at >= 0 ? " at character " + at : "") + ": " + detail,
                    "the file is corrupt or not safetensors");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the header of " + path + ": " + e, e);
        }
        long bufferSize = fileSize - 8 - n;
        List<TensorInfo> tensors = validateLayout(path, entries, 8 + n, bufferSize);
        return new SafetensorsHeader(n, Collections.unmodifiableList(tensors), Collections.unmodifiableMap(metadata));
    }

    private static void parseRoot(Path path, JsonParser p, List<Entry> entries, Map<String, String> metadata)
            throws IOException {
        JsonToken first = p.nextToken();
        assert first == JsonToken.START_OBJECT : "parse() checked the header starts with '{'";
        Set<String> keys = new HashSet<>();
        boolean sawMetadata = false;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
            String key = p.currentName();
            p.nextToken();
            if (key.equals(METADATA_KEY)) {
                if (sawMetadata) {
                    throw error(path, "key " + METADATA_KEY + " appears twice", "the file is corrupt");
                }
                sawMetadata = true;
                parseMetadata(path, p, metadata);
            } else {
                if (!keys.add(key)) {
                    throw error(path, "tensor " + quote(key) + " appears twice in the header",
                            "keys must be unique; the file is corrupt");
                }
                entries.add(parseTensor(path, key, p));
            }
        }
        JsonToken trailing = p.nextToken();
        if (trailing != null) {
            throw error(path, "header has content after its JSON object (" + describe(trailing) + ")",
                    "only spaces may pad the header; the file is corrupt");
        }
    }

    private static void parseMetadata(Path path, JsonParser p, Map<String, String> metadata) throws IOException {
        if (p.currentToken() == JsonToken.VALUE_NULL) {
            return;     // tensor.rs reads "__metadata__": null as absent
        }
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw error(path, METADATA_KEY + " is " + describe(p.currentToken()) + ", not an object",
                    "__metadata__ must map strings to strings");
        }
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
            String key = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw error(path, METADATA_KEY + " value of " + quote(key) + " is " + describe(p.currentToken())
                                + ", not a string",
                        "__metadata__ maps strings to strings only (nested JSON must be stored as a string)");
            }
            if (metadata.put(key, p.getText()) != null) {
                throw error(path, METADATA_KEY + " key " + quote(key) + " appears twice", "the file is corrupt");
            }
        }
    }

    private static Entry parseTensor(Path path, String name, JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw tensorError(path, name, "entry is " + describe(p.currentToken()) + ", not an object",
                    "expected {\"dtype\":..., \"shape\":[...], \"data_offsets\":[begin, end]}");
        }
        String dtypeName = null;
        long[] shape = null;
        long[] offsets = null;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
            String field = p.currentName();
            p.nextToken();
            boolean repeated = switch (field) {
                case "dtype" -> {
                    if (p.currentToken() != JsonToken.VALUE_STRING) {
                        throw tensorError(path, name, "dtype is " + describe(p.currentToken()) + ", not a string",
                                "expected a name such as \"BF16\"");
                    }
                    boolean seen = dtypeName != null;
                    dtypeName = p.getText();
                    yield seen;
                }
                case "shape" -> {
                    boolean seen = shape != null;
                    shape = readLongs(path, name, "shape", p, MAX_RANK);
                    yield seen;
                }
                case "data_offsets" -> {
                    boolean seen = offsets != null;
                    offsets = readLongs(path, name, "data_offsets", p, 2);
                    yield seen;
                }
                default -> throw tensorError(path, name, "unknown field " + quote(field),
                        "a tensor entry has exactly dtype, shape and data_offsets");
            };
            if (repeated) {
                throw tensorError(path, name, "field '" + field + "' appears twice", "the file is corrupt");
            }
        }
        if (dtypeName == null || shape == null || offsets == null) {
            throw tensorError(path, name, "missing field '" + (dtypeName == null ? "dtype" : shape == null ? "shape"
                    : "data_offsets") + "'", "a tensor entry has exactly dtype, shape and data_offsets");
        }
        String finalDtypeName = dtypeName;
        DType dtype = DType.fromHeaderName(dtypeName).orElseThrow(() -> tensorError(path, name,
                "unknown dtype " + quote(finalDtypeName), "supported: " + Arrays.toString(DType.values())));
        if (offsets.length != 2) {
            throw tensorError(path, name, "data_offsets has " + offsets.length + " numbers, not 2",
                    "expected [begin, end]");
        }
        return new Entry(name, dtype, shape, offsets[0], offsets[1]);
    }

    /** A JSON array of at most {@code maxLength} non-negative integers that fit in a {@code long}. */
    private static long[] readLongs(Path path, String tensor, String field, JsonParser p, int maxLength)
            throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw tensorError(path, tensor, field + " is " + describe(p.currentToken()) + ", not an array",
                    "expected an array of non-negative integers");
        }
        long[] values = new long[maxLength];
        int count = 0;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
            if (count == maxLength) {
                throw tensorError(path, tensor, field + " has more than " + maxLength + " entries",
                        field.equals("shape") ? "no framework writes tensors of rank > " + MAX_RANK
                                : "expected [begin, end]");
            }
            if (t != JsonToken.VALUE_NUMBER_INT) {
                throw tensorError(path, tensor, field + " holds " + describe(t) + ", not an integer",
                        "expected an array of non-negative integers");
            }
            if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                throw tensorError(path, tensor, field + " value " + p.getText() + " exceeds " + Long.MAX_VALUE,
                        "no file is that large; the header is corrupt");
            }
            long v = p.getLongValue();
            if (v < 0) {
                throw tensorError(path, tensor, field + " value " + v + " is negative", "sizes and offsets are >= 0");
            }
            values[count++] = v;
        }
        return Arrays.copyOf(values, count);
    }

    /**
     * tensor.rs {@code Metadata::validate}: sorted by offset, the tensors tile {@code [0, bufferSize)} exactly, and each
     * spans {@code numel · dtype size} bytes.
     */
    private static List<TensorInfo> validateLayout(Path path, List<Entry> entries, long dataStart, long bufferSize) {
        List<TensorInfo> tensors = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            long bytes;
            try {
                bytes = Math.multiplyExact(TensorSpec.elementCount(e.shape), e.dtype.byteSize());
            } catch (ArithmeticException overflow) {
                throw tensorError(path, e.name, "shape " + Arrays.toString(e.shape) + " of " + e.dtype
                        + " overflows 64 bits", "the header is corrupt");
            }
            if (e.begin > e.end) {
                throw tensorError(path, e.name, "data_offsets [" + e.begin + ", " + e.end + "] begin after they end",
                        "the header is corrupt");
            }
            if (e.end > bufferSize) {
                throw tensorError(path, e.name, "data_offsets [" + e.begin + ", " + e.end + "] reach past the "
                        + bufferSize + "-byte data buffer", "the file is truncated or the header is corrupt");
            }
            if (e.end - e.begin != bytes) {
                throw tensorError(path, e.name, "data_offsets [" + e.begin + ", " + e.end + "] span "
                        + (e.end - e.begin) + " bytes but " + e.dtype + Arrays.toString(e.shape) + " needs " + bytes,
                        "dtype, shape and offsets disagree; the header is corrupt");
            }
        }
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long expected = 0;
        Entry previous = null;
        for (Entry e : sorted) {
            if (e.begin < expected) {
                throw tensorError(path, e.name, "data_offsets [" + e.begin + ", " + e.end + "] overlap tensor "
                        + quote(previous.name) + " [" + previous.begin + ", " + previous.end + "]",
                        "tensors must not share bytes; the header is corrupt");
            }
            if (e.begin > expected) {
                throw tensorError(path, e.name, "data_offsets [" + e.begin + ", " + e.end + "] leave a hole of "
                        + (e.begin - expected) + " bytes after " + (previous == null ? "the header"
                        : "tensor " + quote(previous.name)),
                        "tensors must tile the data buffer; the header is corrupt");
            }
            expected = e.end;
            previous = e;
            tensors.add(new TensorInfo(new TensorSpec(e.name, e.dtype, e.shape), dataStart + e.begin));
        }
        if (expected != bufferSize) {
            throw error(path, (bufferSize - expected) + " trailing bytes after the last tensor"
                            + (previous == null ? "" : " " + quote(previous.name)) + " (data ends at " + expected
                            + " of " + bufferSize + ")",
                    "the file has data appended or its header lost tensors;"
                            + " safetensors files end with their last tensor");
        }
        return tensors;
    }

    /** A JSON token in words, for messages. */
    private static String describe(JsonToken token) {
        return switch (token) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT -> "an integer";
            case VALUE_NUMBER_FLOAT -> "a fractional number";
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            default -> token.toString();
        };
    }

    static SafetensorsException error(Path path, String what, String hint) {
        return new SafetensorsException("safetensors file " + path + ": " + what + "; " + hint);
    }

    static SafetensorsException tensorError(Path path, String tensor, String what, String hint) {
        return error(path, "tensor " + quote(tensor) + ": " + what, hint);
    }

    /** A name for a message: quoted, and cut short, since a hostile header can hold names of megabytes. */
    static String quote(String name) {
        return name.length() <= 200 ? "'" + name + "'"
                : "'" + name.substring(0, 200) + "...' (" + name.length() + " chars)";
    }
}
