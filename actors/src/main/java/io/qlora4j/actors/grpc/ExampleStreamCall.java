package io.qlora4j.actors.grpc;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.qlora4j.model.data.DataException;
import io.qlora4j.model.data.DatasetRecord;
import io.qlora4j.proto.v1.Example;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * One {@code StreamExamples} call on the server, driven by gRPC's flow control: it is the call's on-ready handler and
 * reads, converts and sends records only while {@link ServerCallStreamObserver#isReady()} says the transport can take
 * more. When a client stops reading, the HTTP/2 window fills, the call stops being ready and this stops reading the file:
 * a paused client costs the server one window of buffered bytes, never the dataset. gRPC runs the handlers of one call
 * one at a time, so the fields need no locking.
 */
final class ExampleStreamCall implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(ExampleStreamCall.class);

    private final ServerCallStreamObserver<Example> call;
    private final String dataset;
    private final Path file;
    private final Stream<DatasetRecord> records;
    private final Iterator<DatasetRecord> iterator;
    private final Function<DatasetRecord, Example> toWire;
    private final ServerMetrics metrics;
    private boolean finished;

    /**
     * @param dataset the name the client asked for; replaces the server's {@code file} path in error messages
     */
    ExampleStreamCall(ServerCallStreamObserver<Example> call, String dataset, Path file, Stream<DatasetRecord> records,
                      Function<DatasetRecord, Example> toWire, ServerMetrics metrics) {
        this.call = call;
        this.dataset = dataset;
        this.file = file;
        this.records = records;
        this.iterator = records.iterator();
        this.toWire = toWire;
        this.metrics = metrics;
        metrics.streamStarted();
    }

    /** Sends records while the call is ready; gRPC calls it again when the call becomes ready again. */
    @Override
    public void run() {
        if (finished) return;
        try {
            while (call.isReady()) {
                if (!iterator.hasNext()) {
                    finish();
                    call.onCompleted();
                    return;
                }
                call.onNext(toWire.apply(iterator.next()));
                metrics.recordSent();
            }
        } catch (DataException | UncheckedIOException e) {
            finish();
            call.onError(Status.DATA_LOSS.withDescription(e.getMessage().replace(file.toString(), dataset)).asRuntimeException());
        } catch (RuntimeException e) {
            LOG.error("streaming {} failed", dataset, e);
            finish();
            call.onError(Status.INTERNAL.withDescription(dataset + ": " + e).withCause(e).asRuntimeException());
        }
    }

    /** The client went away (or the server is stopping): close the file. */
    void cancel() {
        finish();
    }

    private void finish() {
        if (finished) return;
        finished = true;
        records.close();
        metrics.streamEnded();
    }
}
