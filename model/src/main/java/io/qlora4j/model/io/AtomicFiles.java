package io.qlora4j.model.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file so that a crash leaves either the old file or the complete new one, never a torn one: the content goes
 * to a temporary file beside the target, is forced to disk, and is renamed over the target atomically.
 */
public final class AtomicFiles {

    /** Writes the content through a channel. */
    @FunctionalInterface
    public interface ChannelWork {
        void run(FileChannel channel) throws IOException;
    }

    private AtomicFiles() {
    }

    public static void write(Path target, ChannelWork work) {
        Path folder = target.toAbsolutePath().getParent();
        Path tmp = folder.resolve("." + target.getFileName() + "." + HexFormat.of().toHexDigits(
                ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                work.run(channel);
                channel.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            deleteQuietly(tmp, e);
            throw new UncheckedIOException("cannot write " + target + ": " + e, e);
        } catch (RuntimeException | Error e) {
            deleteQuietly(tmp, e);
            throw e;
        }
    }

    public static void writeString(Path target, String content) {
        write(target, channel -> writeFully(channel, ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8))));
    }

    /** Copies a file atomically (the target is replaced). */
    public static void copy(Path source, Path target) {
        write(target, channel -> {
            try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ)) {
                long size = in.size();
                long done = 0;
                while (done < size) done += in.transferTo(done, size - done, channel);
            }
        });
    }

    /** Deletes a file or a folder with everything in it (nothing if it does not exist). */
    public static void deleteTree(Path p) {
        if (!Files.exists(p)) return;
        try (java.util.stream.Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + p + ": " + e.getMessage(), e);
        }
    }

    public static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    private static void deleteQuietly(Path tmp, Throwable cause) {
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException suppressed) {
            cause.addSuppressed(suppressed);
        }
    }
}
