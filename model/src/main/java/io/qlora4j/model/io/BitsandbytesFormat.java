package io.qlora4j.model.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.qlora4j.kernels.quant.BlockScales;
import io.qlora4j.kernels.quant.BlockwiseKernels;
import io.qlora4j.kernels.quant.Codebook;
import io.qlora4j.kernels.quant.DoubleQuantScales;
import io.qlora4j.kernels.quant.PlainScales;
import io.qlora4j.kernels.quant.QuantType;
import io.qlora4j.kernels.quant.QuantizedTensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The tensor set Hugging Face transformers saves for a bitsandbytes 4-bit linear layer (bitsandbytes
 * {@code QuantState.as_dict(packed=True)}, {@code Linear4bit._save_to_state_dict}; QLORA-REFERENCE.md §2.6), read and
 * written bit for bit. For a weight {@code P.weight}:
 * <pre>
 * P.weight                                  U8 [(n+1)/2, 1]   packed codes, first element in the high nibble
 * P.weight.absmax                           U8 [blocks] with double quantization, else F32 [blocks]
 * P.weight.quant_map                        F32 [16]          the code table (NF4 or FP4, code order)
 * P.weight.nested_absmax                    F32 [ceil(blocks/256)]  (double quantization only)
 * P.weight.nested_quant_map                 F32 [256]         the signed 8-bit dynamic code (double quantization only)
 * P.weight.quant_state.bitsandbytes__nf4    U8 [k]            UTF-8 JSON, Python json.dumps default separators:
 *   {"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [out, in],
 *    "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.0517...}
 * </pre>
 * bitsandbytes has no 4-bit Int4 or blockwise Int8 linear format; qlora4j stores those types with the same tensor set
 * under {@code quant_state.qlora4j__int4} / {@code qlora4j__int8} (Int8 codes one byte each), which bitsandbytes will not
 * load. Also produces the {@code quantization_config} block of config.json.
 */
public final class BitsandbytesFormat {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String QUANT_STATE = ".quant_state.";
    private static final String BNB_PREFIX = "bitsandbytes__";
    private static final String QLORA4J_PREFIX = "qlora4j__";
    private static final List<String> AUXILIARY = List.of(".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map");

    private BitsandbytesFormat() {
    }

    /** The key of a quant-state tensor: {@code P.weight.quant_state.bitsandbytes__nf4}. */
    public static String quantStateKey(String weightName, QuantType type) {
        return weightName + QUANT_STATE + (type.bitsandbytesName().isPresent() ? BNB_PREFIX : QLORA4J_PREFIX) + type.cliName();
    }

    /** True for the tensors that belong to a quantized weight's state rather than being weights themselves. */
    public static boolean isAuxiliary(String tensorName) {
        if (tensorName.contains(QUANT_STATE)) return true;
        for (String suffix : AUXILIARY) {
            if (tensorName.endsWith(".weight" + suffix)) return true;
        }
        return false;
    }

    /** The quantization type of {@code weightName} in {@code source}, if it is stored quantized. */
    public static Optional<QuantType> quantizedType(TensorSource source, String weightName) {
        for (QuantType t : QuantType.values()) {
            if (source.names().contains(quantStateKey(weightName, t))) return Optional.of(t);
        }
        return Optional.empty();
    }

    /**
     * Adds the tensors of one quantized weight to a writer.
     *
     * @param weightName    e.g. {@code model.layers.0.self_attn.q_proj.weight}
     * @param originalDtype the dtype the weight had before quantization (recorded as bitsandbytes does)
     */
    public static void put(SafetensorsWriter writer, String weightName, QuantizedTensor q, DType originalDtype) {
        Codebook code = q.type().codebook();
        writer.put(new TensorSpec(weightName, DType.U8, q.codes().length, 1), q.codes());
        ObjectNode state = JSON.createObjectNode();
        if (q.scales() instanceof DoubleQuantScales dq) {
            writer.put(new TensorSpec(weightName + ".absmax", DType.U8, dq.codes().length), dq.codes());
            writer.put(new TensorSpec(weightName + ".nested_absmax", DType.F32, dq.absmax2().length), dq.absmax2());
            writer.put(new TensorSpec(weightName + ".nested_quant_map", DType.F32, 256), DoubleQuantScales.CODE.decodedValues());
        } else {
            float[] absmax = ((PlainScales) q.scales()).absmax();
            writer.put(new TensorSpec(weightName + ".absmax", DType.F32, absmax.length), absmax);
        }
        if (code.bits() == 4) {
            writer.put(new TensorSpec(weightName + ".quant_map", DType.F32, 16), code.decodedValues());
        }
        byte[] json = stateJson(q, originalDtype).getBytes(StandardCharsets.UTF_8);
        writer.put(new TensorSpec(quantStateKey(weightName, q.type()), DType.U8, json.length), json);
    }

    /** Reads a quantized weight, validating every part against the others and against qlora4j's code tables. */
    public static QuantizedTensor read(TensorSource source, String weightName) {
        QuantType type = quantizedType(source, weightName).orElseThrow(() -> new CheckpointException(
                weightName + " is not stored as a bitsandbytes 4-bit weight (no " + weightName + QUANT_STATE + "* tensor)"));
        String stateKey = quantStateKey(weightName, type);
        JsonNode state = parseState(source, stateKey);
        String where = "quantized weight " + weightName;
        if (!type.cliName().equals(state.path("quant_type").asText())) {
            throw new CheckpointException(where + ": quant_state says quant_type '" + state.path("quant_type").asText()
                    + "' but its key says " + type.cliName());
        }
        int blocksize = state.path("blocksize").asInt(-1);
        try {
            QuantType.checkBlocksize(blocksize);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(where + ": " + e.getMessage(), e);
        }
        int[] shape = shape(state.get("shape"), where);
        long n = Arrays.stream(shape).asLongStream().reduce(1, Math::multiplyExact);
        Codebook code = type.codebook();
        byte[] codes = bytesOf(source, weightName, BlockwiseKernels.codeBytes(n, code), where + " codes");
        int blocks = BlockwiseKernels.blockCount(n, blocksize);
        if (code.bits() == 4) {
            checkTable(source, weightName + ".quant_map", code, where);
        }
        BlockScales scales;
        if (state.has("nested_offset")) {
            if (state.path("nested_blocksize").asInt() != DoubleQuantScales.BLOCKSIZE) {
                throw new CheckpointException(where + ": nested_blocksize " + state.get("nested_blocksize")
                        + " is not supported (bitsandbytes uses " + DoubleQuantScales.BLOCKSIZE + ")");
            }
            checkTable(source, weightName + ".nested_quant_map", DoubleQuantScales.CODE, where);
            byte[] qabsmax = bytesOf(source, weightName + ".absmax", blocks, where + " absmax codes");
            float[] absmax2 = floatsOf(source, weightName + ".nested_absmax",
                    BlockwiseKernels.blockCount(blocks, DoubleQuantScales.BLOCKSIZE), where);
            scales = new DoubleQuantScales(qabsmax, absmax2, (float) state.get("nested_offset").asDouble());
        } else {
            scales = new PlainScales(floatsOf(source, weightName + ".absmax", blocks, where));
        }
        return new QuantizedTensor(type, shape, blocksize, codes, scales);
    }

    /** The original dtype recorded in a quantized weight's state ("float32", "bfloat16", ...). */
    public static DType originalDtype(TensorSource source, String weightName) {
        QuantType type = quantizedType(source, weightName).orElseThrow();
        return fromTorchName(parseState(source, quantStateKey(weightName, type)).path("dtype").asText(), weightName);
    }

    /**
     * The {@code quantization_config} block transformers writes into config.json for a bitsandbytes 4-bit model
     * ({@code BitsAndBytesConfig.to_dict()}); for Int4/Int8 the same block with {@code quant_method: "qlora4j"}.
     */
    public static ObjectNode quantizationConfig(QuantType type, boolean doubleQuant, int blocksize) {
        ObjectNode c = JSON.createObjectNode();
        c.put("quant_method", type.bitsandbytesName().isPresent() ? "bitsandbytes" : "qlora4j");
        c.put("_load_in_8bit", false);
        c.put("_load_in_4bit", type.bits() == 4);
        c.put("llm_int8_threshold", 6.0);
        c.putNull("llm_int8_skip_modules");
        c.put("llm_int8_enable_fp32_cpu_offload", false);
        c.put("llm_int8_has_fp16_weight", false);
        c.put("bnb_4bit_quant_type", type.cliName());
        c.put("bnb_4bit_use_double_quant", doubleQuant);
        c.put("bnb_4bit_compute_dtype", "float32");
        c.put("bnb_4bit_quant_storage", "uint8");
        c.put("load_in_4bit", type.bits() == 4);
        c.put("load_in_8bit", false);
        if (blocksize != QuantType.DEFAULT_BLOCKSIZE) c.put("qlora4j_blocksize", blocksize);
        return c;
    }

    /** torch's name of a dtype, as bitsandbytes records it ({@code str(torch.bfloat16)} without "torch."). */
    public static String torchName(DType dtype) {
        return switch (dtype) {
            case F32 -> "float32";
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            case F64 -> "float64";
            default -> throw new IllegalArgumentException("not a floating-point weight dtype: " + dtype);
        };
    }

    private static DType fromTorchName(String name, String where) {
        for (DType d : new DType[]{DType.F32, DType.BF16, DType.F16, DType.F64}) {
            if (torchName(d).equals(name)) return d;
        }
        throw new CheckpointException(where + ": unknown dtype '" + name + "' in quant_state");
    }

    static String stateJson(QuantizedTensor q, DType originalDtype) {
        // json.dumps with default separators and the key order of QuantState.as_dict
        StringBuilder sb = new StringBuilder("{\"quant_type\": \"").append(q.type().cliName())
                .append("\", \"blocksize\": ").append(q.blocksize())
                .append(", \"dtype\": \"").append(torchName(originalDtype))
                .append("\", \"shape\": [");
        for (int i = 0; i < q.shape().length; i++) sb.append(i == 0 ? "" : ", ").append(q.shape()[i]);
        sb.append(']');
        if (q.scales() instanceof DoubleQuantScales dq) {
            sb.append(", \"nested_blocksize\": ").append(DoubleQuantScales.BLOCKSIZE)
                    .append(", \"nested_dtype\": \"float32\", \"nested_offset\": ").append(PythonFloat.repr(dq.offset()));
        }
        return sb.append('}').toString();
    }

    private static JsonNode parseState(TensorSource source, String stateKey) {
        MemorySegment seg = source.bytes(stateKey);
        String text = new String(seg.toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        try {
            JsonNode node = JSON.readTree(text);
            if (node == null || !node.isObject()) throw new CheckpointException(stateKey + ": quant_state is not a JSON object");
            return node;
        } catch (JsonProcessingException e) {
            throw new CheckpointException(stateKey + ": quant_state is not valid JSON (" + e.getOriginalMessage() + ")", e);
        }
    }

    private static int[] shape(JsonNode shape, String where) {
        if (shape == null || !shape.isArray() || shape.isEmpty()) {
            throw new CheckpointException(where + ": quant_state has no valid 'shape'");
        }
        int[] s = new int[shape.size()];
        for (int i = 0; i < s.length; i++) {
            if (!shape.get(i).canConvertToInt() || shape.get(i).asInt() < 0) {
                throw new CheckpointException(where + ": quant_state shape " + shape + " has an invalid dimension");
            }
            s[i] = shape.get(i).asInt();
        }
        return s;
    }

    /** The raw bytes of a tensor that must hold exactly {@code expected} bytes (any dtype: quant_storage may vary). */
    private static byte[] bytesOf(TensorSource source, String name, long expected, String what) {
        if (!source.names().contains(name)) throw new CheckpointException(what + ": tensor " + name + " is missing");
        MemorySegment seg = source.bytes(name);
        if (seg.byteSize() != expected) {
            throw new CheckpointException(what + ": tensor " + name + " has " + seg.byteSize() + " bytes, expected "
                    + expected + " for the shape and block size in its quant_state");
        }
        return seg.toArray(ValueLayout.JAVA_BYTE);
    }

    private static float[] floatsOf(TensorSource source, String name, int expected, String where) {
        if (!source.names().contains(name)) throw new CheckpointException(where + ": tensor " + name + " is missing");
        TensorInfo info = source.info(name);
        if (info.dtype() != DType.F32 || info.numel() != expected) {
            throw new CheckpointException(where + ": tensor " + name + " is " + info.dtype() + " "
                    + Arrays.toString(info.shape()) + ", expected F32 [" + expected + "]");
        }
        return source.readFloats(name);
    }

    private static void checkTable(TensorSource source, String name, Codebook code, String where) {
        float[] table = floatsOf(source, name, code.size(), where);
        for (int i = 0; i < table.length; i++) {
            if (Float.floatToRawIntBits(table[i]) != Float.floatToRawIntBits(code.value(i))) {
                throw new CheckpointException(where + ": " + name + "[" + i + "] = " + table[i] + " differs from the "
                        + code.name().toLowerCase(Locale.ROOT) + " table (" + code.value(i)
                        + "): the file was quantized with a different code, which qlora4j does not support");
            }
        }
    }
}
