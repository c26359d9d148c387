package io.qlora4j.actors.grpc;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.qlora4j.proto.v1.DatasetServiceGrpc;
import io.qlora4j.proto.v1.ListDatasetsRequest;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One-shot questions to a data server, blocking (call it when setting up a run, not inside an actor). Streaming
 * examples goes through {@link GrpcExampleSource}.
 */
public final class DatasetClient {

    private DatasetClient() {
    }

    /**
     * The datasets {@code server} offers.
     *
     * @throws DataServiceException naming the server and the gRPC status when the call fails
     */
    public static List<RemoteDataset> listDatasets(ServerAddress server, GrpcClientSettings settings) {
        ManagedChannel channel = DatasetChannels.open(server, settings);
        try {
            return DatasetServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                    .withMaxOutboundMessageSize(ExampleStreamStage.MAX_REQUEST_BYTES)
                    .listDatasets(ListDatasetsRequest.getDefaultInstance()).getDatasetsList().stream().map(Wire::fromWire).toList();
        } catch (StatusRuntimeException e) {
            throw Wire.error(e.getStatus(), "listing the datasets of " + server);
        } finally {
            channel.shutdownNow();
        }
    }
}
