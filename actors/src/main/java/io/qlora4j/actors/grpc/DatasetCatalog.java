package io.qlora4j.actors.grpc;

import io.qlora4j.actors.grpc.DataServiceException.Kind;
import io.qlora4j.model.data.DataException;
import io.qlora4j.model.data.DataFormat;
import io.qlora4j.model.data.DatasetFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The datasets under a data server's folder: {@code .jsonl}, {@code .json} and {@code .txt} files, in the folder and its
 * subfolders. It turns the names clients send into files, refusing every name that would leave the folder (a {@code ..}
 * segment, an absolute path, a symbolic link that resolves outside). Descriptions (format, record count) are computed
 * once per file version (size and modification time) and cached. Not a gRPC type: the service adapter translates it.
 */
public final class DatasetCatalog {

    private static final List<String> EXTENSIONS = List.of(".jsonl", ".json", ".txt");
    private static final int MAX_DEPTH = 4;
    private static final int LISTED_IN_ERRORS = 20;

    private final Path root;    // real path: symlinks resolved, so containment checks compare like with like
    private final Map<Path, Cached> descriptions = new ConcurrentHashMap<>();

    private record Cached(long size, long modified, DatasetDescription description) {
    }

    private DatasetCatalog(Path root) {
        this.root = root;
    }

    /**
     * The catalog of {@code folder}.
     *
     * @throws DataException when the folder does not exist or is not a folder
     */
    public static DatasetCatalog open(Path folder) {
        if (!Files.isDirectory(folder)) {
            throw new DataException(folder.toAbsolutePath() + ": no such folder: pass the folder that holds the datasets (.jsonl, .json, .txt files)");
        }
        try {
            return new DatasetCatalog(folder.toRealPath());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the dataset folder " + folder + ": " + e.getMessage(), e);
        }
    }

    public Path root() {
        return root;
    }

    /** The names of the datasets, sorted. */
    public List<String> names() {
        try (Stream<Path> files = Files.walk(root, MAX_DEPTH)) {
            return files.filter(this::isServable).map(p -> root.relativize(p).toString().replace('\\', '/')).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the dataset folder " + root + ": " + e.getMessage(), e);
        }
    }

    /** Every dataset with its format and record count (reads each new or changed file once). */
    public List<DatasetDescription> list() {
        return names().stream().map(name -> describe(name, root.resolve(name))).toList();
    }

    /**
     * The file a client's dataset name refers to. A name without extension finds the one dataset with that stem.
     *
     * @throws DataServiceException {@code INVALID_REQUEST} for a name that escapes the folder or is not a dataset file,
     *                              {@code NOT_FOUND} for a name that is not there; both list the available datasets
     */
    public Path resolve(String name) {
        if (name.isBlank()) throw invalid(name, "the dataset name is empty");
        if (name.indexOf('\0') >= 0 || name.indexOf('\\') >= 0) throw invalid(name, "the name contains a NUL or backslash");
        Path relative;
        try {
            relative = Path.of(name);
        } catch (InvalidPathException e) {
            throw invalid(name, "not a valid path (" + e.getReason() + ")");
        }
        if (relative.isAbsolute() || name.startsWith("/")) {
            throw invalid(name, "an absolute path; names are relative to the served folder");
        }
        for (Path segment : relative) {
            if (segment.toString().equals("..")) throw invalid(name, "a '..' segment (names may not leave the served folder)");
        }
        Path candidate = root.resolve(relative).normalize();
        if (!Files.exists(candidate, LinkOption.NOFOLLOW_LINKS)) candidate = withExtension(name, candidate);
        if (candidate == null) {
            throw new DataServiceException(Kind.NOT_FOUND, "no dataset '" + name + "' on this server; " + available());
        }
        Path real;
        try {
            real = candidate.toRealPath();
        } catch (IOException e) {
            throw new DataServiceException(Kind.NOT_FOUND, "dataset '" + name + "' cannot be opened (a dangling link?); " + available());
        }
        if (!real.startsWith(root)) {
            throw invalid(name, "it is a symbolic link to a file outside the served folder");
        }
        if (!Files.isRegularFile(real) || !isDatasetFile(real)) {
            throw invalid(name, "not a dataset file (" + String.join(", ", EXTENSIONS) + ")");
        }
        return real;
    }

    private DatasetDescription describe(String name, Path file) {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (IOException e) {
            return new DatasetDescription(name, Optional.empty(), 0, 0, Optional.of("cannot read: " + e.getMessage()));
        }
        long modified = attributes.lastModifiedTime().toMillis();
        Cached cached = descriptions.get(file);
        if (cached != null && cached.size() == attributes.size() && cached.modified() == modified) return cached.description();
        DatasetDescription d = read(name, file, attributes.size());
        descriptions.put(file, new Cached(attributes.size(), modified, d));
        return d;
    }

    private static DatasetDescription read(String name, Path file, long size) {
        try {
            DatasetFile dataset = DatasetFile.open(file);
            long records = dataset.countRecords();
            Optional<DataFormat> format = dataset.detectFormat();
            Optional<String> problem = format.isPresent() ? Optional.empty()
                    : Optional.of("the first record matches no known format: clients must name the format");
            return new DatasetDescription(name, format, records, size, problem);
        } catch (DataException | UncheckedIOException e) {
            return new DatasetDescription(name, Optional.empty(), 0, size, Optional.of(e.getMessage().replace(file.toString(), name)));
        }
    }

    /** The one dataset file named {@code stem} plus an extension, or null. */
    private Path withExtension(String name, Path stem) {
        Path found = null;
        for (String extension : EXTENSIONS) {
            Path p = stem.resolveSibling(stem.getFileName() + extension);
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                if (found != null) throw invalid(name, "ambiguous: several files have that name with different extensions, give the extension");
                found = p;
            }
        }
        return found;
    }

    private boolean isServable(Path p) {
        if (!Files.isRegularFile(p) || !isDatasetFile(p)) return false;
        try {
            return p.toRealPath().startsWith(root);
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean isDatasetFile(Path p) {
        String name = p.getFileName().toString();
        return EXTENSIONS.stream().anyMatch(name::endsWith);
    }

    private DataServiceException invalid(String name, String why) {
        return new DataServiceException(Kind.INVALID_REQUEST, "dataset name '" + name + "' refused: " + why + "; " + available());
    }

    private String available() {
        List<String> names = names();
        if (names.isEmpty()) return "this server has no datasets in its folder";
        String shown = String.join(", ", names.subList(0, Math.min(LISTED_IN_ERRORS, names.size())));
        return "available: " + shown + (names.size() > LISTED_IN_ERRORS ? " and " + (names.size() - LISTED_IN_ERRORS) + " more" : "");
    }
}
