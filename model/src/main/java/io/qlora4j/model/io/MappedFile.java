package io.qlora4j.model.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A whole file mapped read-only into its own shared arena, so that several threads can read it and {@link #close()}
 * unmaps it at once instead of whenever the GC runs. The channel is closed right after mapping; the mapping keeps the
 * file's pages reachable. Not for files that others truncate while mapped (the OS would fault the reading thread).
 *
 * @param segment the file's bytes, {@code [0, size)}, read-only
 */
record MappedFile(Path path, Arena arena, MemorySegment segment) implements AutoCloseable {

    /** Maps {@code path}; I/O failures (missing file, no permission) become an {@link UncheckedIOException}. */
    static MappedFile map(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment segment = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena).asReadOnly();
            return new MappedFile(path, arena, segment);
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException("cannot map " + path + " for reading: " + e, e);
        }
    }

    long size() {
        return segment.byteSize();
    }

    boolean isOpen() {
        return arena.scope().isAlive();
    }

    /** Unmaps the file; idempotent (but not to be raced by two threads). */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
