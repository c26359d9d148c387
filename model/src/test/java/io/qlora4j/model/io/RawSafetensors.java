package io.qlora4j.model.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Test helpers: safetensors files assembled byte by byte (valid or not), and the standard check on a rejection. */
final class RawSafetensors {
    private RawSafetensors() {
    }

    /** u64 little-endian {@code headerLength}, then {@code header}, then {@code data}; no padding, no checks. */
    static byte[] assemble(long headerLength, byte[] header, byte[] data) {
        return ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(headerLength).put(header).put(data).array();
    }

    static byte[] assemble(String headerJson, byte[] data) {
        byte[] header = headerJson.getBytes(StandardCharsets.UTF_8);
        return assemble(header.length, header, data);
    }

    static Path write(Path file, byte[] content) {
        try {
            return Files.write(file, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Asserts opening {@code file} fails with a {@link SafetensorsException} naming the file and {@code expectedText}. */
    static SafetensorsException assertRejected(Path file, String expectedText) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(file).close());
        assertInformative(e, file);
        assertTrue(e.getMessage().contains(expectedText), () -> "message lacks '" + expectedText + "': " + e.getMessage());
        return e;
    }

    /** Names the file, says what is wrong and, after a ';', what to do about it. */
    static void assertInformative(SafetensorsException e, Path file) {
        String m = e.getMessage();
        assertTrue(m.contains(file.toString()), () -> "message does not name the file: " + m);
        assertTrue(m.contains("; ") && m.length() > file.toString().length() + 40, () -> "message has no hint: " + m);
    }
}
