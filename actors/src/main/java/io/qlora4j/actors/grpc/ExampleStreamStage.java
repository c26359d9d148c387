package io.qlora4j.actors.grpc;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.qlora4j.actors.data.ReadOptions;
import io.qlora4j.actors.data.SourceRecord;
import io.qlora4j.actors.grpc.DataServiceException.Kind;
import io.qlora4j.model.data.DataFormat;
import io.qlora4j.proto.v1.DatasetServiceGrpc;
import io.qlora4j.proto.v1.Example;
import io.qlora4j.proto.v1.StreamExamplesRequest;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.SourceShape;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.AsyncCallback;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayDeque;

/**
 * A Pekko Streams source of one dataset's records from a data server, resilient to the server going away.
 *
 * <p>Flow control end to end: the stage asks gRPC for at most {@link GrpcClientSettings#bufferRecords()} records beyond
 * what downstream has taken ({@link ClientCall#request}); unrequested records stay in the transport, whose HTTP/2 window
 * then stops the server (which only produces while its call is ready). A paused trainer thus holds the server to one
 * window plus one buffer.
 *
 * <p>Resuming: when the call breaks with a status that a restart can cure (UNAVAILABLE, CANCELLED, INTERNAL, ...), the
 * stage keeps the records it already received, waits with exponential backoff and starts a new call at the offset after
 * the last record received, so downstream sees every offset once, in order, across any number of reconnects. After
 * {@link GrpcClientSettings#maxAttempts()} failed attempts in a row it fails with a dead-peer error naming the server and
 * the last offset handed on. A refusal (not found, invalid, unauthenticated, unusable) fails at once.
 *
 * <p>All state lives in the stage and is touched only by stage callbacks; gRPC's listener threads hand events over
 * through an {@link AsyncCallback}, tagged with the call they belong to so that events of an abandoned call are ignored.
 */
final class ExampleStreamStage extends GraphStage<SourceShape<SourceRecord>> {
    private static final Logger LOG = LoggerFactory.getLogger(ExampleStreamStage.class);
    private static final String RECONNECT = "reconnect";
    /** Requests are a dataset name and a few numbers (the server accepts up to 64 KiB). */
    static final int MAX_REQUEST_BYTES = 64 << 10;

    private final Outlet<SourceRecord> out = Outlet.create("ExampleStreamStage.out");
    private final SourceShape<SourceRecord> shape = SourceShape.of(out);
    private final DatasetUrl url;
    private final GrpcClientSettings settings;
    private final ReadOptions options;
    private final int maxLength;
    private final long startOffset;

    ExampleStreamStage(DatasetUrl url, GrpcClientSettings settings, ReadOptions options, int maxLength, long startOffset) {
        this.url = url;
        this.settings = settings;
        this.options = options;
        this.maxLength = maxLength;
        this.startOffset = startOffset;
    }

    @Override
    public SourceShape<SourceRecord> shape() {
        return shape;
    }

    @Override
    public GraphStageLogic createLogic(Attributes inheritedAttributes) {
        return new Logic();
    }

    private sealed interface CallEvent {
        int callId();
    }

    private record Received(int callId, SourceRecord record) implements CallEvent {
    }

    private record Closed(int callId, Status status) implements CallEvent {
    }

    private final class Logic extends TimerGraphStageLogic {
        private final ArrayDeque<SourceRecord> buffer = new ArrayDeque<>();
        private final AsyncCallback<CallEvent> events = createAsyncCallback(this::onEvent);
        private ManagedChannel channel;
        private ClientCall<StreamExamplesRequest, Example> call;
        private int callId;
        private int requested;              // asked of the current call and not yet received
        private long nextOffset;            // the offset a new call starts at: after the last record received
        private long lastHandedOn = -1;
        private int failedAttempts;
        private long firstFailureNanos;
        private Status lastFailure;
        private boolean serverDone;

        Logic() {
            super(shape);
            setHandler(out, new AbstractOutHandler() {
                @Override
                public void onPull() {
                    deliver();
                }
            });
        }

        @Override
        public void preStart() {
            nextOffset = startOffset;
            channel = DatasetChannels.open(url.server(), settings);
            startCall();
        }

        @Override
        public void postStop() {
            if (call != null) call.cancel("the trainer's stream stopped", null);
            if (channel != null) channel.shutdownNow();
        }

        private void startCall() {
            int id = ++callId;
            requested = 0;
            call = channel.newCall(DatasetServiceGrpc.getStreamExamplesMethod(), CallOptions.DEFAULT.withMaxOutboundMessageSize(MAX_REQUEST_BYTES));
            call.start(new ClientCall.Listener<>() {
                @Override
                public void onMessage(Example message) {
                    events.invoke(new Received(id, Wire.fromWire(message, url.toString())));
                }

                @Override
                public void onClose(Status status, Metadata trailers) {
                    events.invoke(new Closed(id, status));
                }
            }, new Metadata());
            call.sendMessage(StreamExamplesRequest.newBuilder().setDataset(url.dataset())
                    .setShardIndex(options.shard().index()).setShardCount(options.shard().count())
                    .setStartOffset(nextOffset).setFormat(options.format().map(DataFormat::cliName).orElse(""))
                    .setMaxLength(maxLength).setRawText(settings.rawText()).setTrainOnSource(options.trainOnSource()).build());
            call.halfClose();
            requestMore();
        }

        /** Tops the outstanding request up to the buffer size once half of it is free (fewer, larger requests). */
        private void requestMore() {
            int room = settings.bufferRecords() - buffer.size() - requested;
            if (call != null && room > 0 && room >= (settings.bufferRecords() + 1) / 2) {
                call.request(room);
                requested += room;
            }
        }

        private void deliver() {
            if (isAvailable(out) && !buffer.isEmpty()) {
                SourceRecord r = buffer.remove();
                lastHandedOn = r.offset();
                push(out, r);
            }
            if (serverDone && buffer.isEmpty()) {
                completeStage();
            } else {
                requestMore();
            }
        }

        private void onEvent(CallEvent event) {
            if (event.callId() != callId) return;
            switch (event) {
                case Received(var _, SourceRecord record) -> {
                    requested--;
                    if (record.offset() < nextOffset) {
                        failStage(new DataServiceException(Kind.SERVER_ERROR, url + ": the server sent offset " + record.offset()
                                + " where offsets from " + nextOffset + " on were due: records out of order (a server of another version, or a file changed under it?)"));
                        return;
                    }
                    nextOffset = record.offset() + 1;
                    failedAttempts = 0;
                    buffer.add(record);
                    deliver();
                }
                case Closed(var _, Status status) -> onClosed(status);
            }
        }

        private void onClosed(Status status) {
            call = null;
            if (status.isOk()) {
                serverDone = true;
                deliver();
                return;
            }
            if (!Wire.retriable(status)) {
                failStage(Wire.error(status, url.toString()));
                return;
            }
            if (failedAttempts == 0) firstFailureNanos = System.nanoTime();
            lastFailure = status;
            if (++failedAttempts > settings.maxAttempts()) {
                failStage(deadPeer());
                return;
            }
            Duration wait = settings.backoff(failedAttempts);
            LOG.warn("{}: the stream broke after offset {} ({}); reconnecting at offset {} in {} ms (attempt {} of {})", url,
                    nextOffset - 1, Wire.describe(status), nextOffset, wait.toMillis(), failedAttempts, settings.maxAttempts());
            scheduleOnce(RECONNECT, wait);
        }

        @Override
        public void onTimer(Object key) {
            channel.resetConnectBackoff();
            startCall();
        }

        private DataServiceException deadPeer() {
            double seconds = (System.nanoTime() - firstFailureNanos) / 1e9;
            String position = lastHandedOn < 0 ? "no record was handed on yet" : "the last offset handed on was " + lastHandedOn;
            return new DataServiceException(Kind.DEAD_PEER, String.format(
                    "dead peer: the data server %s did not answer %d reconnect attempts over %.1f s while streaming %s; %s;"
                            + " last error: %s. Check that serve-data is running and reachable, then resume",
                    url.server(), settings.maxAttempts(), seconds, url, position, Wire.describe(lastFailure)));
        }
    }
}
