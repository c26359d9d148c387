package io.qlora4j.actors.grpc;

import io.grpc.Status;
import io.qlora4j.actors.data.SourceRecord;
import io.qlora4j.actors.grpc.DataServiceException.Kind;
import io.qlora4j.model.data.DataFormat;
import io.qlora4j.model.data.RenderedExample;
import io.qlora4j.model.data.TokenizedExample;
import io.qlora4j.proto.v1.DatasetInfo;
import io.qlora4j.proto.v1.Example;
import io.qlora4j.proto.v1.TextSegment;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The one place where qlora4j.v1 wire types meet domain types, both ways: records ↔ {@link Example}, dataset
 * descriptions ↔ {@link DatasetInfo}, {@link DataServiceException} ↔ gRPC {@link Status}. Only the gRPC adapters of this
 * package call it; nothing outside this package sees a wire type.
 */
final class Wire {

    private Wire() {
    }

    static Example toWire(SourceRecord record) {
        Example.Builder b = Example.newBuilder().setOffset(record.offset());
        switch (record) {
            case SourceRecord.Tokenized(TokenizedExample e, int untruncatedLength) -> {
                for (int i = 0; i < e.length(); i++) {
                    b.addTokenIds(e.tokens()[i]);
                    b.addTargetMask(e.targets()[i]);
                }
                b.setUntruncatedLength(untruncatedLength);
            }
            case SourceRecord.Rendered(RenderedExample e) -> {
                for (RenderedExample.Segment s : e.segments()) b.addSegments(TextSegment.newBuilder().setText(s.text()).setTarget(s.target()));
                b.setJoined(e.joined()).setAddBos(e.addBos()).setAddEos(e.addEos());
            }
            case SourceRecord.Malformed(long offset, String error) -> b.setError(error);
        }
        return b.build();
    }

    /** The record an {@link Example} carries; inconsistent ids and mask make it malformed, naming {@code dataset}. */
    static SourceRecord fromWire(Example m, String dataset) {
        if (!m.getError().isEmpty()) return new SourceRecord.Malformed(m.getOffset(), m.getError());
        if (m.getTokenIdsCount() > 0) {
            if (m.getTargetMaskCount() != m.getTokenIdsCount()) {
                return new SourceRecord.Malformed(m.getOffset(), dataset + " record " + m.getOffset() + ": the server sent "
                        + m.getTokenIdsCount() + " token ids but " + m.getTargetMaskCount() + " mask entries");
            }
            int[] ids = new int[m.getTokenIdsCount()];
            boolean[] targets = new boolean[ids.length];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = m.getTokenIds(i);
                targets[i] = m.getTargetMask(i);
            }
            return new SourceRecord.Tokenized(new TokenizedExample(m.getOffset(), ids, targets), Math.max(ids.length, m.getUntruncatedLength()));
        }
        List<RenderedExample.Segment> segments = new ArrayList<>(m.getSegmentsCount());
        for (TextSegment s : m.getSegmentsList()) segments.add(new RenderedExample.Segment(s.getText(), s.getTarget()));
        return new SourceRecord.Rendered(new RenderedExample(m.getOffset(), segments, m.getJoined(), m.getAddBos(), m.getAddEos()));
    }

    static DatasetInfo toWire(DatasetDescription d, Optional<ServerTokenizer> tokenizer) {
        return DatasetInfo.newBuilder().setName(d.name()).setFormat(d.format().map(DataFormat::cliName).orElse(""))
                .setNumRecords(d.records()).setSizeBytes(d.sizeBytes()).setTokenized(tokenizer.isPresent())
                .setTokenizerId(tokenizer.map(ServerTokenizer::id).orElse("")).setProblem(d.problem().orElse("")).build();
    }

    static RemoteDataset fromWire(DatasetInfo info) {
        Optional<DataFormat> format = info.getFormat().isEmpty() ? Optional.empty() : Optional.of(DataFormat.parse(info.getFormat()));
        DatasetDescription d = new DatasetDescription(info.getName(), format, info.getNumRecords(), info.getSizeBytes(),
                info.getProblem().isEmpty() ? Optional.empty() : Optional.of(info.getProblem()));
        return new RemoteDataset(d, info.getTokenized() ? Optional.of(info.getTokenizerId()) : Optional.empty());
    }

    static Status status(DataServiceException e) {
        Status code = switch (e.kind()) {
            case INVALID_REQUEST -> Status.INVALID_ARGUMENT;
            case NOT_FOUND -> Status.NOT_FOUND;
            case UNUSABLE_DATASET -> Status.FAILED_PRECONDITION;
            case UNAUTHENTICATED -> Status.UNAUTHENTICATED;
            case DEAD_PEER -> Status.UNAVAILABLE;
            case SERVER_ERROR -> Status.INTERNAL;
        };
        return code.withDescription(e.getMessage());
    }

    /** Whether a call that ended with {@code status} may succeed when tried again (the server went away or restarts). */
    static boolean retriable(Status status) {
        return switch (status.getCode()) {
            case UNAVAILABLE, CANCELLED, UNKNOWN, INTERNAL, ABORTED, DEADLINE_EXCEEDED -> true;
            default -> false;
        };
    }

    /** The error a failed call means to the caller, naming {@code what} (server or dataset URL). */
    static DataServiceException error(Status status, String what) {
        Kind kind = switch (status.getCode()) {
            case INVALID_ARGUMENT -> Kind.INVALID_REQUEST;
            case NOT_FOUND -> Kind.NOT_FOUND;
            case FAILED_PRECONDITION -> Kind.UNUSABLE_DATASET;
            case UNAUTHENTICATED, PERMISSION_DENIED -> Kind.UNAUTHENTICATED;
            default -> Kind.SERVER_ERROR;
        };
        String hint = switch (status.getCode()) {
            case RESOURCE_EXHAUSTED -> ": an example is larger than the client's message limit; lower the max length or raise the limit";
            case UNAVAILABLE -> ": is serve-data running there, and does the URL's scheme match its TLS setting (grpcs:// for --tls-cert)?";
            default -> "";
        };
        return new DataServiceException(kind, what + ": " + describe(status) + hint);
    }

    /** A status as one line: code, description, and the cause when the status has one (e.g. connection refused). */
    static String describe(Status status) {
        StringBuilder sb = new StringBuilder(status.getCode().toString());
        if (status.getDescription() != null) sb.append(": ").append(status.getDescription());
        if (status.getCause() != null && status.getCause().getMessage() != null) sb.append(" (").append(status.getCause().getMessage()).append(')');
        return sb.toString();
    }
}
