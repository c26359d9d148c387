package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.LinearWeight;
import io.qlora4j.kernels.Matmul;
import io.qlora4j.kernels.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Matmul} with the Java Vector API, bit-identical to {@link ReferenceMatmul}. All three products are one GEMM
 * shape, C (rows × cols) += A (rows × L) · P (L × cols), computed by a register-blocked "broadcast A, FMA a packed panel
 * of P" micro-kernel (6 rows × 32 columns = 12 vector accumulators), which sums each output over L in ascending order
 * with one FMA per product — exactly the reference's order, so no reduction across lanes is ever needed.
 * <ul>
 *   <li>forward: C = out, A = in, P = Wᵀ: the panel is packed from W rows, decoded segment by segment (the fused
 *       dequantize: a 4-bit weight is decoded into a 32 KB panel that stays in cache and serves every row of the batch);
 *   <li>backwardInput: C = dIn, A = dOut, P = W (W's own row layout, so packing copies contiguous row segments);
 *   <li>backwardWeight: C = dW, A = dOutᵀ (read with strides, never transposed in memory), P = in.
 * </ul>
 * Work is split over (column tile, row block) pairs; each output element is owned by one task.
 * Dimension letters: M rows, N out features, K in features, L summed length, NR/MR micro-tile, LC panel depth.
 */
public final class VectorMatmul implements Matmul {

    public static final VectorMatmul INSTANCE = new VectorMatmul();

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_512;
    private static final int LANES = 16;
    private static final int NR = 2 * LANES;      // columns per tile (two vectors)
    private static final int MR = 6;              // rows per micro-tile
    private static final int LC = 256;            // panel depth: 256 × 32 floats = 32 KB, L1/L2 resident
    private static final int ROW_BLOCK = 16 * MR; // rows per task when there are too few column tiles to share
    /** Below this many multiply-adds a product runs on the calling thread: handing it to workers costs more. */
    private static final long PARALLEL_MIN_FMAS = 1L << 17;

    private VectorMatmul() {
    }

    /** True when the CPU has 512-bit vectors; otherwise use {@link ReferenceMatmul}. */
    public static boolean isSupported() {
        return FloatVector.SPECIES_PREFERRED.length() >= LANES;
    }

    /**
     * Fills panel[l·NR + j] = P[l0 + l][j0 + j] for l < lc, j < jc (the caller zero-fills columns jc..NR), with an
     * (NR × LC) scratch array to decode into.
     */
    @FunctionalInterface
    private interface PanelPacker {
        void pack(int l0, int lc, int j0, int jc, float[] panel, float[] scratch);
    }

    @Override
    public void forward(float[] out, float[] in, LinearWeight weight, int m, boolean accumulate) {
        int n = weight.rows();
        int k = weight.cols();
        PanelPacker transposedWeight = (l0, lc, j0, jc, panel, rows) -> {
            for (int j = 0; j < jc; j++) weight.decode(j0 + j, l0, lc, rows, j * LC);
            transposeDecodedRows(rows, jc, lc, panel);
        };
        gemm(out, n, m, n, in, k, 1, k, transposedWeight, accumulate);
    }

    @Override
    public void backwardInput(float[] dIn, float[] dOut, LinearWeight weight, int m, boolean accumulate) {
        int n = weight.rows();
        int k = weight.cols();
        PanelPacker weightRows = (l0, lc, j0, jc, panel, unused) -> {
            for (int l = 0; l < lc; l++) weight.decode(l0 + l, j0, jc, panel, l * NR);
        };
        gemm(dIn, k, m, k, dOut, n, 1, n, weightRows, accumulate);
    }

    @Override
    public void backwardWeight(float[] dWeight, float[] dOut, float[] in, int m, int n, int k) {
        PanelPacker inputRows = (l0, lc, j0, jc, panel, unused) -> {
            for (int l = 0; l < lc; l++) System.arraycopy(in, (l0 + l) * k + j0, panel, l * NR, jc);
        };
        gemm(dWeight, k, n, k, dOut, 1, n, m, inputRows, true);
    }

    /**
     * C (rows × cols, row stride cStride) (+)= A · P where A[r][l] = a[r·aRow + l·aCol] and P is supplied panel by
     * panel by {@code packer}.
     */
    private static void gemm(float[] c, int cStride, int rows, int cols, float[] a, int aRow, int aCol, int length,
                             PanelPacker packer, boolean accumulate) {
        int tiles = Math.ceilDiv(cols, NR);
        int rowBlocks = tiles >= 2 * Parallel.threads() ? 1 : Math.max(1, Math.ceilDiv(rows, ROW_BLOCK));
        int rowsPerBlock = rowBlocks == 1 ? rows : ROW_BLOCK;
        boolean small = (long) rows * cols * length < PARALLEL_MIN_FMAS;
        Parallel.forRange(tiles * rowBlocks, small ? tiles * rowBlocks : 1, (from, to) -> {
            float[] panel = Scratch.floats(Scratch.Slot.PANEL, LC * NR);
            float[] scratch = Scratch.floats(Scratch.Slot.DECODED, NR * LC);
            for (int task = from; task < to; task++) {
                int j0 = (task / rowBlocks) * NR;
                int jc = Math.min(NR, cols - j0);
                int r0 = (task % rowBlocks) * rowsPerBlock;
                int r1 = Math.min(rows, r0 + rowsPerBlock);
                if (!accumulate) {
                    // start from zero by clearing C: the micro-kernels always load C, so no vector value merges from
                    // two allocation sites (which would defeat C2's vector box elimination)
                    for (int r = r0; r < r1; r++) java.util.Arrays.fill(c, r * cStride + j0, r * cStride + j0 + jc, 0f);
                }
                for (int l0 = 0; l0 < length; l0 += LC) {
                    int lc = Math.min(LC, length - l0);
                    if (jc < NR) java.util.Arrays.fill(panel, 0f);
                    packer.pack(l0, lc, j0, jc, panel, scratch);
                    int r = r0;
                    for (; r + MR <= r1; r += MR) {
                        tile6(c, cStride, r, j0, jc, a, aRow, aCol, l0, lc, panel);
                    }
                    for (; r < r1; r++) {
                        tile1(c, cStride, r, j0, jc, a, aRow, aCol, l0, lc, panel);
                    }
                }
            }
        });
    }

    /**
     * panel[l·NR + j] = rows[j·LC + l] for j < jc, l < lc: sixteen j at a time with one gather per l (the offsets of
     * sixteen consecutive decoded rows), the column tail element by element. For one-row products (generation) packing
     * the decoded weight is most of the work; scalar stores made it about half of a step.
     */
    private static void transposeDecodedRows(float[] rows, int jc, int lc, float[] panel) {
        int fullJ = jc & -LANES;
        for (int j0 = 0; j0 < fullJ; j0 += LANES) {
            for (int l = 0; l < lc; l++) {
                FloatVector.fromArray(S, rows, j0 * LC + l, DECODED_ROW_OFFSETS, 0).intoArray(panel, l * NR + j0);
            }
        }
        for (int j = fullJ; j < jc; j++) {
            for (int l = 0; l < lc; l++) panel[l * NR + j] = rows[j * LC + l];
        }
    }

    /** Offsets of sixteen consecutive rows of the decode scratch (row stride LC). */
    private static final int[] DECODED_ROW_OFFSETS = java.util.stream.IntStream.range(0, LANES).map(i -> i * LC).toArray();

    /** Six rows × 32 columns: twelve accumulators, each summed over l in ascending order with one FMA per product. */
    private static void tile6(float[] c, int cStride, int r, int j0, int jc, float[] a, int aRow, int aCol,
                              int l0, int lc, float[] panel) {
        VectorMask<Float> m0 = S.indexInRange(0, jc);
        VectorMask<Float> m1 = S.indexInRange(LANES, jc);
        int c0 = r * cStride + j0;
        FloatVector c00 = FloatVector.fromArray(S, c, c0, m0);
        FloatVector c01 = FloatVector.fromArray(S, c, c0 + LANES, m1);
        FloatVector c10 = FloatVector.fromArray(S, c, c0 + cStride, m0);
        FloatVector c11 = FloatVector.fromArray(S, c, c0 + cStride + LANES, m1);
        FloatVector c20 = FloatVector.fromArray(S, c, c0 + 2 * cStride, m0);
        FloatVector c21 = FloatVector.fromArray(S, c, c0 + 2 * cStride + LANES, m1);
        FloatVector c30 = FloatVector.fromArray(S, c, c0 + 3 * cStride, m0);
        FloatVector c31 = FloatVector.fromArray(S, c, c0 + 3 * cStride + LANES, m1);
        FloatVector c40 = FloatVector.fromArray(S, c, c0 + 4 * cStride, m0);
        FloatVector c41 = FloatVector.fromArray(S, c, c0 + 4 * cStride + LANES, m1);
        FloatVector c50 = FloatVector.fromArray(S, c, c0 + 5 * cStride, m0);
        FloatVector c51 = FloatVector.fromArray(S, c, c0 + 5 * cStride + LANES, m1);
        int ai = r * aRow + l0 * aCol;
        for (int l = 0; l < lc; l++, ai += aCol) {
            FloatVector p0 = FloatVector.fromArray(S, panel, l * NR);
            FloatVector p1 = FloatVector.fromArray(S, panel, l * NR + LANES);
            FloatVector x = FloatVector.broadcast(S, a[ai]);
            c00 = x.fma(p0, c00);
            c01 = x.fma(p1, c01);
            x = FloatVector.broadcast(S, a[ai + aRow]);
            c10 = x.fma(p0, c10);
            c11 = x.fma(p1, c11);
            x = FloatVector.broadcast(S, a[ai + 2 * aRow]);
            c20 = x.fma(p0, c20);
            c21 = x.fma(p1, c21);
            x = FloatVector.broadcast(S, a[ai + 3 * aRow]);
            c30 = x.fma(p0, c30);
            c31 = x.fma(p1, c31);
            x = FloatVector.broadcast(S, a[ai + 4 * aRow]);
            c40 = x.fma(p0, c40);
            c41 = x.fma(p1, c41);
            x = FloatVector.broadcast(S, a[ai + 5 * aRow]);
            c50 = x.fma(p0, c50);
            c51 = x.fma(p1, c51);
        }
        c00.intoArray(c, c0, m0);
        c01.intoArray(c, c0 + LANES, m1);
        c10.intoArray(c, c0 + cStride, m0);
        c11.intoArray(c, c0 + cStride + LANES, m1);
        c20.intoArray(c, c0 + 2 * cStride, m0);
        c21.intoArray(c, c0 + 2 * cStride + LANES, m1);
        c30.intoArray(c, c0 + 3 * cStride, m0);
        c31.intoArray(c, c0 + 3 * cStride + LANES, m1);
        c40.intoArray(c, c0 + 4 * cStride, m0);
        c41.intoArray(c, c0 + 4 * cStride + LANES, m1);
        c50.intoArray(c, c0 + 5 * cStride, m0);
        c51.intoArray(c, c0 + 5 * cStride + LANES, m1);
    }

    /** One row × 32 columns: the remainder rows of a block. */
    private static void tile1(float[] c, int cStride, int r, int j0, int jc, float[] a, int aRow, int aCol,
                              int l0, int lc, float[] panel) {
        VectorMask<Float> m0 = S.indexInRange(0, jc);
        VectorMask<Float> m1 = S.indexInRange(LANES, jc);
        int c0 = r * cStride + j0;
        FloatVector acc0 = FloatVector.fromArray(S, c, c0, m0);
        FloatVector acc1 = FloatVector.fromArray(S, c, c0 + LANES, m1);
        int ai = r * aRow + l0 * aCol;
        for (int l = 0; l < lc; l++, ai += aCol) {
            FloatVector x = FloatVector.broadcast(S, a[ai]);
            acc0 = x.fma(FloatVector.fromArray(S, panel, l * NR), acc0);
            acc1 = x.fma(FloatVector.fromArray(S, panel, l * NR + LANES), acc1);
        }
        acc0.intoArray(c, c0, m0);
        acc1.intoArray(c, c0 + LANES, m1);
    }
}
