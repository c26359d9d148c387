package io.qlora4j.actors.grpc;

import io.qlora4j.model.data.DataFormat;

import java.util.Optional;

/**
 * What a data server says about one of its datasets.
 *
 * @param name      the path relative to the served folder: what a client puts after the host in its URL
 * @param format    the detected record format, when the records look like a known one
 * @param records   records in the file, well-formed and malformed alike (the range of offsets)
 * @param sizeBytes the file size
 * @param problem   why the dataset cannot be streamed (empty, unknown format, unreadable), when it cannot
 */
public record DatasetDescription(String name, Optional<DataFormat> format, long records, long sizeBytes, Optional<String> problem) {
}
