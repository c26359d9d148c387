package io.qlora4j.model.io;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.OptionalLong;
import java.util.SequencedSet;
import java.util.Set;
import java.util.TreeSet;

/**
 * A Hugging Face sharded checkpoint: {@code model.safetensors.index.json} ({@link SafetensorsIndex}) plus the shard
 * files its {@code weight_map} names. {@link #open} checks every named shard stays inside the index's folder
 * ({@code ../x.safetensors} and absolute names are rejected; symbolic links are followed, since the Hugging Face cache
 * links snapshot files to blobs elsewhere) and exists; each shard is mapped on first use, and then checked to hold
 * exactly the tensors the index assigns it, so once every shard has been used (or after {@link #verifyAll()}) the
 * shards' union equals the weight map.
 *
 * <p>Not a writer ({@link SafetensorsWriter#writeSharded}).
 */
public final class ShardedSafetensors implements TensorSource {
    /** Appended to the weights name to name the index: {@code model.safetensors.index.json}. */
    public static final String INDEX_SUFFIX = ".index.json";

    private final Path indexFile;
    private final SafetensorsIndex index;
    private final SequencedSet<String> names;
    private final Map<String, SafetensorsFile> openShards = new HashMap<>();   // guarded by this
    private boolean closed;                                                     // guarded by this

    private ShardedSafetensors(Path indexFile, SafetensorsIndex index) {
        this.indexFile = indexFile;
        this.index = index;
        this.names = Collections.unmodifiableSequencedSet(new LinkedHashSet<>(index.namesGroupedByShard()));
    }

    /**
     * Reads the index and checks its shard names.
     *
     * @throws SafetensorsException when the index is malformed, names a file outside its folder or a missing file
     */
    public static ShardedSafetensors open(Path indexFile) {
        SafetensorsIndex index = SafetensorsIndex.read(indexFile);
        Path folder = indexFile.toAbsolutePath().normalize().getParent();
        for (String shard : new TreeSet<>(index.weightMap().values())) {
            Path p;
            try {
                p = Path.of(shard);
            } catch (InvalidPathException e) {
                throw new SafetensorsException("safetensors index " + indexFile + " names shard "
                        + SafetensorsHeader.quote(shard) + ", which is not a valid file name (" + e.getReason()
                        + "); the index is corrupt");
            }
            if (shard.isEmpty() || p.isAbsolute() || !folder.resolve(p).normalize().startsWith(folder)) {
                throw new SafetensorsException("safetensors index " + indexFile + " names shard "
                        + SafetensorsHeader.quote(shard) + ", which is outside the index's folder; shard names must be"
                        + " relative and stay in " + folder + " (an untrusted index may try to read other files)");
            }
            if (!Files.isRegularFile(folder.resolve(p))) {
                throw new SafetensorsException("safetensors index " + indexFile + " names shard "
                        + SafetensorsHeader.quote(shard) + ", which does not exist in " + folder
                        + "; the download is incomplete or the index belongs to other files");
            }
        }
        return new ShardedSafetensors(indexFile, index);
    }

    public Path indexFile() {
        return indexFile;
    }

    /** {@code metadata.total_size} of the index, when present. */
    public OptionalLong totalSize() {
        return index.totalSize();
    }

    /** Names in the weight map, grouped by shard (shards in file name order), each group in index order. */
    @Override
    public SequencedSet<String> names() {
        return names;
    }

    @Override
    public TensorInfo info(String name) {
        return shardOf(name).info(name);
    }

    @Override
    public MemorySegment bytes(String name) {
        return shardOf(name).bytes(name);
    }

    @Override
    public float[] readFloats(String name) {
        return shardOf(name).readFloats(name);
    }

    /** Opens every shard, so that any disagreement between the index and the shards is reported now. */
    public void verifyAll() {
        for (String shard : new TreeSet<>(index.weightMap().values())) {
            shard(shard);
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        openShards.values().forEach(SafetensorsFile::close);
        openShards.clear();
    }

    private SafetensorsFile shardOf(String name) {
        String shard = index.weightMap().get(name);
        if (shard == null) {
            throw new SafetensorsException("safetensors index " + indexFile + ": no tensor "
                    + SafetensorsHeader.quote(name) + " in its weight_map of " + names.size()
                    + " tensors; names() lists them");
        }
        return shard(shard);
    }

    private synchronized SafetensorsFile shard(String shard) {
        if (closed) {
            throw new IllegalStateException("sharded checkpoint " + indexFile + " is closed");
        }
        SafetensorsFile file = openShards.get(shard);
        if (file == null) {
            file = SafetensorsFile.open(indexFile.toAbsolutePath().normalize().getParent().resolve(shard));
            try {
                checkHoldsExactly(file, shard);
            } catch (SafetensorsException e) {
                file.close();
                throw e;
            }
            openShards.put(shard, file);
        }
        return file;
    }

    private void checkHoldsExactly(SafetensorsFile file, String shard) {
        Set<String> expected = new LinkedHashSet<>();
        index.weightMap().forEach((name, s) -> {
            if (s.equals(shard)) {
                expected.add(name);
            }
        });
        for (String name : file.names()) {
            if (!expected.contains(name)) {
                String mapped = index.weightMap().get(name);
                throw new SafetensorsException("shard " + file.path() + " holds tensor " + SafetensorsHeader.quote(name)
                        + (mapped == null ? ", which the index " + indexFile + " does not list"
                        : ", which the index " + indexFile + " assigns to " + SafetensorsHeader.quote(mapped))
                        + "; the index and the shards come from different saves");
            }
        }
        for (String name : expected) {
            if (!file.names().contains(name)) {
                throw new SafetensorsException("safetensors index " + indexFile + " assigns tensor "
                        + SafetensorsHeader.quote(name) + " to shard " + file.path() + ", which does not hold it"
                        + "; the index and the shards come from different saves");
            }
        }
    }

    @Override
    public String toString() {
        return "ShardedSafetensors[" + indexFile + ", " + names.size() + " tensors]";
    }
}
