package io.qlora4j.kernels.cuda;

import io.qlora4j.kernels.quant.BlockScales;
import io.qlora4j.kernels.quant.Codebook;
import io.qlora4j.kernels.quant.DoubleQuantScales;
import io.qlora4j.kernels.quant.PlainScales;

/**
 * A blockwise-quantized tensor copied to the device for one call: the codes, the code table and the block constants.
 * The code tables are uploaded from {@link Codebook}, the one copy of every table (the .cu file holds none).
 * Passed to kernels as the flat parameter list {@code QUANTIZED_PARAMS} of qlora4j_kernels.cu, in that order.
 */
final class DeviceQuantized implements AutoCloseable {

    private final int bits;
    private final int blocksize;
    private final float offset;
    // device copies; the optional ones stay null. Not final: a failed upload closes what was already allocated.
    private DeviceBuffer codes;     // 4-bit: (n+1)/2 bytes, first element in the high nibble; 8-bit: n bytes
    private DeviceBuffer table;     // (2^bits) the codebook's decoded values
    private DeviceBuffer absmax;    // (blocks) fp32, plain scales only
    private DeviceBuffer codes2;    // (blocks) double quant: 8-bit codes of absmax − offset
    private DeviceBuffer absmax2;   // (ceil(blocks/256)) double quant: second-level absmax
    private DeviceBuffer table2;    // (256) double quant: DoubleQuantScales.CODE

    DeviceQuantized(Codebook code, int blocksize, byte[] codes, BlockScales scales) {
        this.bits = code.bits();
        this.blocksize = blocksize;
        this.offset = scales instanceof DoubleQuantScales d ? d.offset() : 0f;
        try {
            this.codes = DeviceBuffer.of("codes", codes);
            this.table = DeviceBuffer.of("code table " + code, code.decodedValues());
            switch (scales) {
                case PlainScales p -> absmax = DeviceBuffer.of("absmax", p.absmax());
                case DoubleQuantScales d -> {
                    codes2 = DeviceBuffer.of("absmax codes", d.codes());
                    absmax2 = DeviceBuffer.of("absmax2", d.absmax2());
                    table2 = DeviceBuffer.of("code table " + DoubleQuantScales.CODE, DoubleQuantScales.CODE.decodedValues());
                }
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Appends {@code QUANTIZED_PARAMS}: codes, table, bits, blocksize, absmax, codes2, absmax2, table2, offset. */
    Launch appendTo(Launch launch) {
        launch.buffer(codes).buffer(table).i32(bits).i32(blocksize);
        if (absmax != null) launch.buffer(absmax).none().none().none();
        else launch.none().buffer(codes2).buffer(absmax2).buffer(table2);
        return launch.f32(offset);
    }

    @Override
    public void close() {
        for (DeviceBuffer b : new DeviceBuffer[]{codes, table, absmax, codes2, absmax2, table2}) {
            if (b != null) b.close();
        }
    }
}
