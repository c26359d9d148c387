package io.qlora4j.model.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seeded random malformed files: every one must either open (and then read completely) or be rejected with a
 * {@link SafetensorsException} that names the file and gives a hint, never another exception or error, and opening
 * must never allocate in proportion to a declared size. Each case prints its seed on failure; rerun everything with
 * {@code -Dqlora4j.fuzz.seed=<master seed>}.
 */
class SafetensorsFuzzTest {
    private static final long MASTER_SEED = Long.getLong("qlora4j.fuzz.seed", 0x5AFE_7E45L);
    /** Opening allocates a few Jackson/decoder buffers plus objects per tensor: bounded by the bytes really present. */
    private static final long FIXED_ALLOCATION_BUDGET = 4L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @TempDir
    Path tmp;
    private Path file;
    private int opened;
    private int rejected;
    private byte[] onDisk;

    @BeforeEach
    void setUp() {
        file = tmp.resolve("fuzz.safetensors");
    }

    @AfterEach
    void report() {
        System.out.printf("fuzz (master seed %d): %d files opened, %d rejected%n", MASTER_SEED, opened, rejected);
    }

    /** Every strict prefix of a valid file is invalid; so is the file with bytes appended. */
    @Test
    void truncatedAndExtendedFiles() throws IOException {
        SplittableRandom rnd = new SplittableRandom(MASTER_SEED);
        byte[] adapter = Files.readAllBytes(SharedData.require("fixtures/tiny_lora_adapter/adapter_model.safetensors"));
        for (byte[] valid : List.of(allDtypesFile(), adapter)) {
            int dataStart = 8 + (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            // every length around the three boundaries (length field, header end, file end), then random ones
            for (int i = 0; i < 500; i++) {
                int len = i < 48 ? i : i < 96 ? dataStart - 72 + i : i < 144 ? valid.length - 144 + i
                        : rnd.nextInt(valid.length);
                expectRejected("truncate", len, Arrays.copyOf(valid, len));
            }
            expectRejected("append", 1, Arrays.copyOf(valid, valid.length + 1));
        }
    }

    /** Random bytes, and random strings over JSON's alphabet, behind random header lengths. */
    @Test
    void randomHeaders() {
        String alphabet = "{}[]\":,0123456789-+.eE _aFUIB\\u\t\n";
        for (int i = 0; i < 1000; i++) {
            long caseSeed = MASTER_SEED * 31 + i;
            SplittableRandom rnd = new SplittableRandom(caseSeed);
            int length = rnd.nextInt(0, 300);
            byte[] header = new byte[length];
            if (i % 2 == 0) {
                rnd.nextBytes(header);
            } else {
                for (int j = 0; j < length; j++) {
                    header[j] = (byte) alphabet.charAt(rnd.nextInt(alphabet.length()));
                }
            }
            if (i % 3 != 0 && length > 0) {
                header[0] = '{';
            }
            long declared = switch (i % 5) {
                case 0 -> rnd.nextLong();
                case 1 -> length + rnd.nextInt(-3, 4);
                default -> length;
            };
            byte[] data = new byte[rnd.nextInt(0, 64)];
            check("random-header", caseSeed, RawSafetensors.assemble(declared, header, data));
        }
    }

    /** Random byte changes (length field included) in the headers of real files. */
    @Test
    void byteFlipsInRealHeaders() throws IOException {
        List<byte[]> originals = List.of(
                Files.readAllBytes(SharedData.require("fixtures/tiny_lora_adapter/adapter_model.safetensors")),
                Files.readAllBytes(SharedData.require("golden/bnb/nf4_doublequant_160x200.safetensors")));
        byte[] significant = "{}[]\":,0123456789- ".getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < 1000; i++) {
            long caseSeed = MASTER_SEED * 37 + i;
            SplittableRandom rnd = new SplittableRandom(caseSeed);
            byte[] content = originals.get(i * originals.size() / 1000).clone();
            int headerEnd = 8 + (int) ByteBuffer.wrap(content).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            int flips = rnd.nextInt(1, 5);
            for (int f = 0; f < flips; f++) {
                int at = rnd.nextInt(headerEnd);
                content[at] = rnd.nextBoolean() ? (byte) (content[at] ^ rnd.nextInt(1, 256))
                        : significant[rnd.nextInt(significant.length)];
            }
            check("flip", caseSeed, content);
        }
    }

    /** Structural edits of a valid header: hostile numbers, wrong types, missing and extra fields, overlaps. */
    @Test
    void structuredMutations() throws IOException {
        byte[] valid = allDtypesFile();
        int n = (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        byte[] data = Arrays.copyOfRange(valid, 8 + n, valid.length);
        ObjectNode header = (ObjectNode) JSON.readTree(new String(valid, 8, n, StandardCharsets.UTF_8));
        List<String> names = new ArrayList<>();
        header.fieldNames().forEachRemaining(names::add);
        names.remove("__metadata__");
        for (int i = 0; i < 1000; i++) {
            long caseSeed = MASTER_SEED * 41 + i;
            SplittableRandom rnd = new SplittableRandom(caseSeed);
            ObjectNode h = header.deepCopy();
            ObjectNode t = (ObjectNode) h.get(names.get(rnd.nextInt(names.size())));
            String json = switch (rnd.nextInt(9)) {
                case 0 -> {
                    ((ArrayNode) t.get("data_offsets")).set(rnd.nextInt(2), hostileNumber(rnd, data.length));
                    yield h.toString();
                }
                case 1 -> {
                    ArrayNode shape = t.putArray("shape");
                    int rank = rnd.nextInt(0, 4) + (rnd.nextInt(20) == 0 ? 62 : 0);
                    for (int d = 0; d < rank; d++) {
                        shape.add(hostileNumber(rnd, data.length));
                    }
                    yield h.toString();
                }
                case 2 -> {
                    t.set("dtype", oddValue(rnd));
                    yield h.toString();
                }
                case 3 -> {
                    t.remove(List.of("dtype", "shape", "data_offsets").get(rnd.nextInt(3)));
                    yield h.toString();
                }
                case 4 -> {
                    t.set(rnd.nextBoolean() ? "offsets" : "shape", oddValue(rnd));
                    yield h.toString();
                }
                case 5 -> {
                    h.set(names.get(rnd.nextInt(names.size())), oddValue(rnd));
                    yield h.toString();
                }
                case 6 -> {
                    ObjectNode other = (ObjectNode) h.get(names.get(rnd.nextInt(names.size())));
                    JsonNode swap = other.get("data_offsets");
                    other.set("data_offsets", t.get("data_offsets"));
                    t.set("data_offsets", swap);
                    yield h.toString();
                }
                case 7 -> {
                    if (rnd.nextBoolean()) {
                        ((ObjectNode) h.get("__metadata__")).set("format", oddValue(rnd));
                    } else {
                        h.set("__metadata__", oddValue(rnd));
                    }
                    yield h.toString();
                }
                default -> {
                    String name = names.get(rnd.nextInt(names.size()));
                    String s = h.toString();
                    yield s.substring(0, s.length() - 1) + ",\"" + name + "\":" + h.get(name) + "}";
                }
            };
            byte[] headerBytes = json.getBytes(StandardCharsets.UTF_8);
            check("mutation", caseSeed, RawSafetensors.assemble(headerBytes.length, headerBytes, data));
        }
    }

    /** Declared lengths and offsets at the edges of 64-bit arithmetic. */
    @Test
    void hugeDeclaredSizes() {
        byte[] tiny = "{}".getBytes(StandardCharsets.UTF_8);
        long[] lengths = {Long.MAX_VALUE, -1L, Long.MIN_VALUE, 100_000_001L, 100_000_000L, 99_999_999L, 3L, 1L << 32};
        for (long length : lengths) {
            expectRejected("header-length", length, RawSafetensors.assemble(length, tiny, new byte[8]));
        }
        String[] entries = {
                "{\"t\":{\"dtype\":\"U8\",\"shape\":[9223372036854775807],\"data_offsets\":[0,9223372036854775807]}}",
                "{\"t\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952],\"data_offsets\":[0,9223372036854775807]}}",
                "{\"t\":{\"dtype\":\"F64\",\"shape\":[3037000500,3037000500],\"data_offsets\":[0,8]}}",
                "{\"t\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}",
                "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9223372036854775806,9223372036854775807]}}",
                "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9223372036854775807,9223372036854775808]}}",
                "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}",
                "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1" + "0".repeat(40) + "]}}",
                "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1e300]}}",
                "{\"t\":{\"dtype\":\"U8\",\"shape\":[1" + "0".repeat(30) + "],\"data_offsets\":[0,1]}}",
                "{\"t\":{\"dtype\":\"U8\",\"shape\":[" + "9223372036854775807,".repeat(63) + "0],\"data_offsets\":[0,0]}}",
                "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}," + "[".repeat(10_000),
                "{\"" + "x".repeat(60_000) + "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
        };
        for (int i = 0; i < entries.length; i++) {
            expectRejected("huge", i, RawSafetensors.assemble(entries[i], new byte[8]));
        }
    }

    /** A valid file holding every dtype, 0-rank and empty tensors, and metadata. */
    private byte[] allDtypesFile() throws IOException {
        SafetensorsWriter w = new SafetensorsWriter(Map.of("format", "pt"));
        for (DType d : DType.values()) {
            w.put(new TensorSpec(d.name(), d, 2, 3), new byte[6 * d.byteSize()]);
            w.put(new TensorSpec(d.name() + ".scalar", d), new byte[d.byteSize()]);
            w.put(new TensorSpec(d.name() + ".empty", d, 0, 4), new byte[0]);
        }
        Path p = tmp.resolve("valid.safetensors");
        w.write(p);
        return Files.readAllBytes(p);
    }

    private static JsonNode hostileNumber(SplittableRandom rnd, int dataSize) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        return switch (rnd.nextInt(10)) {
            case 0 -> f.numberNode(-1L);
            case 1 -> f.numberNode(Long.MAX_VALUE - rnd.nextInt(3));
            case 2 -> f.numberNode(BigInteger.ONE.shiftLeft(63 + rnd.nextInt(2)).subtract(BigInteger.valueOf(rnd.nextInt(2))));
            case 3 -> f.numberNode(1L << rnd.nextInt(31, 63));
            case 4 -> f.numberNode(dataSize + rnd.nextInt(-2, 3));
            case 5 -> f.numberNode(rnd.nextDouble() * 10);
            default -> f.numberNode(rnd.nextLong(0, Math.max(1, dataSize)));
        };
    }

    private static JsonNode oddValue(SplittableRandom rnd) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        return switch (rnd.nextInt(8)) {
            case 0 -> f.nullNode();
            case 1 -> f.numberNode(rnd.nextInt());
            case 2 -> f.textNode(List.of("F32", "F4", "f32", "C64", "", "BF16 ").get(rnd.nextInt(6)));
            case 3 -> f.arrayNode().add(1).add("x");
            case 4 -> f.objectNode().put("dtype", "F32");
            case 5 -> f.booleanNode(rnd.nextBoolean());
            case 6 -> f.arrayNode();
            default -> f.objectNode();
        };
    }

    /** Writes {@code content} to the fuzz file; when only a few bytes changed (header flips), only those. */
    private void store(byte[] content) {
        try {
            if (onDisk != null && onDisk.length == content.length) {
                int from = Arrays.mismatch(onDisk, content);
                if (from >= 0) {
                    int to = content.length;
                    while (onDisk[to - 1] == content[to - 1]) {
                        to--;
                    }
                    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                        channel.write(ByteBuffer.wrap(content, from, to - from), from);
                    }
                }
            } else {
                Files.write(file, content);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        onDisk = content.clone();
    }

    private void expectRejected(String kind, long caseSeed, byte[] content) {
        assertEquals(Boolean.FALSE, check(kind, caseSeed, content),
                () -> kind + " case " + caseSeed + " (master seed " + MASTER_SEED + ") opened but must be rejected");
    }

    /**
     * Opens {@code content}; on success reads every tensor. Any outcome other than success or an informative
     * {@link SafetensorsException} fails with the case's seed.
     *
     * @return whether the file opened
     */
    private Boolean check(String kind, long caseSeed, byte[] content) {
        String context = kind + " case " + caseSeed + " (master seed " + MASTER_SEED + ", -Dqlora4j.fuzz.seed="
                + MASTER_SEED + ")";
        store(content);
        long thread = Thread.currentThread().threadId();
        long before = THREADS.getThreadAllocatedBytes(thread);
        boolean ok;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            long allocated = THREADS.getThreadAllocatedBytes(thread) - before;
            assertTrue(allocated < FIXED_ALLOCATION_BUDGET + 16L * content.length,
                    () -> context + ": opening allocated " + allocated + " bytes");
            for (String name : f.names()) {
                assertEquals(f.info(name).byteSize(), f.readBytes(name).length, context);
                if (f.info(name).dtype().isFloat()) {
                    assertEquals(f.info(name).numel(), f.readFloats(name).length, context);
                }
            }
            ok = true;
            opened++;
        } catch (SafetensorsException e) {
            long allocated = THREADS.getThreadAllocatedBytes(thread) - before;
            assertTrue(allocated < FIXED_ALLOCATION_BUDGET + 16L * content.length,
                    () -> context + ": rejecting allocated " + allocated + " bytes");
            try {
                RawSafetensors.assertInformative(e, file);
            } catch (AssertionError a) {
                fail(context + ": " + a.getMessage(), e);
            }
            ok = false;
            rejected++;
        } catch (Throwable t) {
            fail(context + ": expected SafetensorsException, got " + t, t);
            return null;
        }
        return ok;
    }
}
