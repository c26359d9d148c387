package io.qlora4j.actors.train;

import io.qlora4j.memory.optim.OptimizerState;
import io.qlora4j.memory.optim.StateFormat;
import io.qlora4j.memory.optim.TensorState;
import io.qlora4j.model.TrainableTensor;
import io.qlora4j.model.train.TrainStep;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The state a replica that joins a data-parallel job receives from the leader, bit for bit: every trainable tensor's
 * values (the LoRA adapters, or every weight in full fine-tuning) and the optimizer state with its step count. The
 * encoding is one byte array (sent in bounded chunks): trainables as (name, length, float bits), then the optimizer as
 * (step, tensors as (name, elements, format, bytes)).
 */
final class ReplicaState {

    /** Bytes per state-transfer message: well under Artery's default 256 KiB frame. */
    static final int CHUNK_BYTES = 128 * 1024;

    private ReplicaState() {
    }

    static byte[] encode(List<TrainableTensor> trainables, OptimizerState optimizer) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(trainables.size());
            for (TrainableTensor t : trainables) {
                out.writeUTF(t.name());
                out.writeInt(t.value().length);
                ByteBuffer b = ByteBuffer.allocate(4 * t.value().length).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(t.value());
                out.write(b.array());
            }
            out.writeLong(optimizer.step());
            out.writeInt(optimizer.tensors().size());
            for (TensorState s : optimizer.tensors()) {
                out.writeUTF(s.name());
                out.writeInt(s.elements());
                out.writeUTF(s.format().name());
                out.writeInt(s.bytes().length);
                out.write(s.bytes());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** The trainables of a snapshot, in training order: the adapters' (LoRA) or the weights by name (full fine-tuning). */
    static List<TrainableTensor> trainables(TrainingSnapshot s, List<TrainableTensor> order) {
        if (s.adapters() != null) return s.adapters().trainables();
        return order.stream().map(t -> new TrainableTensor(t.name(), s.weights().get(t.name()), null)).toList();
    }

    /** Copies an encoded state into {@code step}'s trainables and optimizer; refuses a state of another shape. */
    static void install(byte[] state, TrainStep step) {
        try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(state))) {
            List<TrainableTensor> trainables = step.trainables();
            int count = in.readInt();
            if (count != trainables.size()) {
                throw new IllegalStateException("the leader's state has " + count + " trainable tensors, this replica " + trainables.size()
                        + ": the nodes run different model or LoRA settings");
            }
            for (TrainableTensor t : trainables) {
                String name = in.readUTF();
                int length = in.readInt();
                if (!name.equals(t.name()) || length != t.value().length) {
                    throw new IllegalStateException("the leader's tensor " + name + " (" + length + " floats) does not match this replica's "
                            + t.name() + " (" + t.value().length + ")");
                }
                byte[] raw = in.readNBytes(4 * length);
                ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(t.value());
            }
            long optimizerStep = in.readLong();
            int tensors = in.readInt();
            List<TensorState> states = new ArrayList<>(tensors);
            for (int i = 0; i < tensors; i++) {
                String name = in.readUTF();
                int elements = in.readInt();
                StateFormat format = StateFormat.valueOf(in.readUTF());
                states.add(new TensorState(name, elements, format, in.readNBytes(in.readInt())));
            }
            step.restore(new OptimizerState(optimizerStep, states));
        } catch (IOException e) {
            throw new UncheckedIOException("the leader's state is truncated: " + e.getMessage(), e);
        }
    }

    /** CRC-32C of the trainables' float bits: equal on every replica after every step, or the replicas diverged. */
    static long checksum(List<TrainableTensor> trainables) {
        CRC32C crc = new CRC32C();
        for (TrainableTensor t : trainables) {
            ByteBuffer b = ByteBuffer.allocate(4 * t.value().length).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(t.value());
            crc.update(b);
        }
        return crc.getValue();
    }

    /** {@code state} cut into messages of at most {@link #CHUNK_BYTES}. */
    static List<byte[]> chunks(byte[] state) {
        List<byte[]> out = new ArrayList<>();
        for (int at = 0; at < state.length; at += CHUNK_BYTES) out.add(Arrays.copyOfRange(state, at, Math.min(state.length, at + CHUNK_BYTES)));
        if (out.isEmpty()) out.add(new byte[0]);
        return out;
    }
}
