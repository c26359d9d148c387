package io.qlora4j.actors.grpc;

import java.util.Optional;

/**
 * A dataset as a data server lists it.
 *
 * @param tokenizerId the server's tokenizer when it sends token ids (file name and vocabulary size); empty: raw text
 */
public record RemoteDataset(DatasetDescription description, Optional<String> tokenizerId) {
}
