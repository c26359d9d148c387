package io.qlora4j.actors.train;

import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.serialization.SerializerWithStringManifest;

import java.io.NotSerializableException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Pekko serializer of the all-reduce's {@link GradientChunk}s: a fixed header and the floats as raw little-endian
 * IEEE-754 bits, so a chunk costs 4 bytes per float plus {@value #HEADER_BYTES} (Jackson would write each float as a
 * tagged number and box nothing less). Bit-exact: what the owner summed is what every replica receives.
 *
 * <p>Layout: {@code round} (8 bytes), {@code fromRank} (4, −1 for a {@link GradientExchange.ReducedChunk}),
 * {@code offset} (4), {@code length} (4), then {@code length} floats.
 */
public final class GradientChunkSerializer extends SerializerWithStringManifest {

    /** Serializer id: Pekko reserves 0–40 for itself. */
    static final int ID = 7301;
    static final int HEADER_BYTES = 20;
    private static final String CONTRIBUTION = "C";
    private static final String REDUCED = "R";

    public GradientChunkSerializer(ExtendedActorSystem system) {
    }

    /** Bytes of a chunk on the wire (without Artery's own envelope). */
    static int encodedBytes(GradientChunk chunk) {
        return HEADER_BYTES + 4 * chunk.length();
    }

    @Override
    public int identifier() {
        return ID;
    }

    @Override
    public String manifest(Object o) {
        return switch (o) {
            case GradientExchange.Contribution c -> CONTRIBUTION;
            case GradientExchange.ReducedChunk r -> REDUCED;
            default -> throw new IllegalArgumentException("not a gradient chunk: " + o.getClass().getName());
        };
    }

    @Override
    public byte[] toBinary(Object o) {
        return switch (o) {
            case GradientExchange.Contribution c -> encode(c.round(), c.fromRank(), c.offset(), c.values());
            case GradientExchange.ReducedChunk r -> encode(r.round(), -1, r.offset(), r.values());
            default -> throw new IllegalArgumentException("not a gradient chunk: " + o.getClass().getName());
        };
    }

    private static byte[] encode(long round, int fromRank, int offset, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + 4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(round).putInt(fromRank).putInt(offset).putInt(values.length);
        b.asFloatBuffer().put(values);
        return b.array();
    }

    @Override
    public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long round = b.getLong();
        int fromRank = b.getInt();
        int offset = b.getInt();
        int length = b.getInt();
        if (length < 0 || bytes.length != HEADER_BYTES + 4L * length) {
            throw new NotSerializableException("gradient chunk of " + bytes.length + " bytes declares " + length + " floats");
        }
        float[] values = new float[length];
        b.asFloatBuffer().get(values);
        return switch (manifest) {
            case CONTRIBUTION -> new GradientExchange.Contribution(round, fromRank, offset, values);
            case REDUCED -> new GradientExchange.ReducedChunk(round, offset, values);
            default -> throw new NotSerializableException("unknown gradient chunk manifest '" + manifest + "'");
        };
    }
}
