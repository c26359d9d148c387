package io.qlora4j.actors.grpc;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.qlora4j.actors.data.SourceRecord;
import io.qlora4j.actors.grpc.DataServiceException.Kind;
import io.qlora4j.model.data.DataException;
import io.qlora4j.model.data.DataFormat;
import io.qlora4j.model.data.DatasetFile;
import io.qlora4j.model.data.DatasetRecord;
import io.qlora4j.model.data.ExampleRenderer;
import io.qlora4j.model.data.ExampleTokenizer;
import io.qlora4j.model.tokenizer.ChatTemplate;
import io.qlora4j.model.tokenizer.TokenizerException;
import io.qlora4j.proto.v1.DatasetServiceGrpc;
import io.qlora4j.proto.v1.Example;
import io.qlora4j.proto.v1.ListDatasetsRequest;
import io.qlora4j.proto.v1.ListDatasetsResponse;
import io.qlora4j.proto.v1.StreamExamplesRequest;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * The qlora4j.v1 {@code DatasetService} on top of a {@link DatasetCatalog}: validates each request at the boundary
 * (dataset name, shard, offset, format, max length) and answers with a gRPC status whose description says what is wrong
 * and how to fix it; streams records through an {@link ExampleStreamCall} under manual flow control. Records are
 * rendered, and tokenized when the server has a tokenizer and the client did not ask for raw text. A record that cannot
 * be used is sent as an error record so offsets stay dense and the client decides. This is the only server class that
 * sees wire types (with {@link Wire}).
 */
final class DatasetServiceAdapter extends DatasetServiceGrpc.DatasetServiceImplBase {

    private final DatasetCatalog catalog;
    private final Optional<ServerTokenizer> tokenizer;
    private final int serverMaxLength;
    private final int maxMessageBytes;
    private final ServerMetrics metrics;

    DatasetServiceAdapter(DatasetCatalog catalog, Optional<ServerTokenizer> tokenizer, int serverMaxLength, int maxMessageBytes, ServerMetrics metrics) {
        this.catalog = catalog;
        this.tokenizer = tokenizer;
        this.serverMaxLength = serverMaxLength;
        this.maxMessageBytes = maxMessageBytes;
        this.metrics = metrics;
    }

    @Override
    public void listDatasets(ListDatasetsRequest request, StreamObserver<ListDatasetsResponse> response) {
        ListDatasetsResponse.Builder b = ListDatasetsResponse.newBuilder();
        try {
            for (DatasetDescription d : catalog.list()) b.addDatasets(Wire.toWire(d, tokenizer));
        } catch (UncheckedIOException e) {
            response.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        response.onNext(b.build());
        response.onCompleted();
    }

    @Override
    public void streamExamples(StreamExamplesRequest request, StreamObserver<Example> response) {
        ServerCallStreamObserver<Example> call = (ServerCallStreamObserver<Example>) response;
        ExampleStreamCall stream;
        try {
            stream = open(request, call);
        } catch (DataServiceException e) {
            call.onError(Wire.status(e).asRuntimeException());
            return;
        }
        call.setOnCancelHandler(stream::cancel);
        call.setOnReadyHandler(stream);
    }

    private ExampleStreamCall open(StreamExamplesRequest request, ServerCallStreamObserver<Example> call) {
        String name = request.getDataset();
        int shardCount = Math.max(1, request.getShardCount());
        if (request.getShardCount() < 0 || request.getShardIndex() < 0 || request.getShardIndex() >= shardCount) {
            throw new DataServiceException(Kind.INVALID_REQUEST, "shard " + request.getShardIndex() + " of "
                    + request.getShardCount() + ": need shard_count >= 1 (0 means 1) and 0 <= shard_index < shard_count");
        }
        if (request.getStartOffset() < 0) {
            throw new DataServiceException(Kind.INVALID_REQUEST, "start_offset " + request.getStartOffset() + " is negative");
        }
        if (request.getMaxLength() < 0 || request.getMaxLength() == 1) {
            throw new DataServiceException(Kind.INVALID_REQUEST, "max_length must be 0 (no limit) or >= 2, got " + request.getMaxLength());
        }
        Path file = catalog.resolve(name);
        try {
            DatasetFile dataset = DatasetFile.open(file);
            DataFormat format = format(request, dataset, name);
            Optional<ChatTemplate> template = format == DataFormat.CHAT ? tokenizer.flatMap(t -> t.tokenizer().chatTemplate()) : Optional.empty();
            ExampleRenderer renderer = new ExampleRenderer(format, template, request.getTrainOnSource());
            Optional<ExampleTokenizer> tokenize = request.getRawText() ? Optional.empty()
                    : tokenizer.map(t -> new ExampleTokenizer(t.tokenizer(), maxLength(request.getMaxLength())));
            Stream<DatasetRecord> records = dataset.records(request.getStartOffset(), request.getShardIndex(), shardCount);
            Function<DatasetRecord, Example> toWire = r -> example(r, renderer, tokenize, name, file);
            return new ExampleStreamCall(call, name, file, records, toWire, metrics);
        } catch (DataException | TokenizerException e) {
            throw new DataServiceException(Kind.UNUSABLE_DATASET, e.getMessage().replace(file.toString(), name));
        }
    }

    private static DataFormat format(StreamExamplesRequest request, DatasetFile dataset, String name) {
        if (!request.getFormat().isEmpty()) {
            try {
                return DataFormat.parse(request.getFormat());
            } catch (IllegalArgumentException e) {
                throw new DataServiceException(Kind.INVALID_REQUEST, e.getMessage());
            }
        }
        return dataset.detectFormat().orElseThrow(() -> new DataServiceException(Kind.UNUSABLE_DATASET, "dataset '" + name
                + "': its first record matches no known format (alpaca, guanaco, chat, input-output, text): name the format in the request"));
    }

    /** The tighter of the client's and the server's limits; 0 on both means none. */
    private int maxLength(int requested) {
        if (requested == 0 && serverMaxLength == 0) return Integer.MAX_VALUE;
        if (requested == 0) return serverMaxLength;
        return serverMaxLength == 0 ? requested : Math.min(requested, serverMaxLength);
    }

    private Example example(DatasetRecord r, ExampleRenderer renderer, Optional<ExampleTokenizer> tokenize, String name, Path file) {
        SourceRecord record = SourceRecord.render(r, renderer, name);
        if (tokenize.isPresent()) record = SourceRecord.tokenize(record, tokenize.get(), name);
        if (record instanceof SourceRecord.Malformed(long offset, String error)) {
            record = new SourceRecord.Malformed(offset, error.replace(file.toString(), name));
        }
        Example example = Wire.toWire(record);
        if (example.getSerializedSize() <= maxMessageBytes) return example;
        return Wire.toWire(new SourceRecord.Malformed(r.offset(), name + ":" + r.line() + ": the record is "
                + example.getSerializedSize() + " bytes on the wire, above the server's message limit of " + maxMessageBytes
                + " bytes: start serve-data with a lower --max-length, or ask for a lower max_length"));
    }
}
