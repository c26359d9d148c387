package io.qlora4j.kernels.cpu;

import io.qlora4j.kernels.Checks;
import io.qlora4j.kernels.Rope;
import io.qlora4j.kernels.RopeLayout;
import io.qlora4j.kernels.RopeTable;

/**
 * {@link Rope} in plain loops, the only CPU implementation: RoPE touches each element once with two products and a sum,
 * memory-bound and a few percent of a layer, so a vector variant would not pay. Single-threaded.
 * Dimension letters: HS head size, P pairs per head (HS/2).
 */
public final class ReferenceRope implements Rope {

    public static final ReferenceRope INSTANCE = new ReferenceRope();

    private ReferenceRope() {
    }

    @Override
    public void ropeForward(float[] x, int[] positions, int rows, int heads, RopeTable table) {
        check("ropeForward", x, "x", positions, rows, heads, table);
        rotate(x, positions, rows, heads, table, 1f);
    }

    @Override
    public void ropeBackward(float[] dX, int[] positions, int rows, int heads, RopeTable table) {
        check("ropeBackward", dX, "dX", positions, rows, heads, table);
        rotate(dX, positions, rows, heads, table, -1f);
    }

    /**
     * Rotates every pair by +angle ({@code direction = 1}) or −angle ({@code −1}, the transpose): (a, b) →
     * (a·cos − b·sin', a·sin' + b·cos) with sin' = direction·sin, exactly HF's {@code q·cos + rotate_half(q)·sin}.
     */
    private static void rotate(float[] x, int[] positions, int rows, int heads, RopeTable table, float direction) {
        int HS = table.headSize(), P = HS / 2;
        RopeLayout layout = table.layout();
        for (int r = 0; r < rows; r++) {
            int pos = positions[r];
            for (int h = 0; h < heads; h++) {
                int base = (r * heads + h) * HS;
                for (int j = 0; j < P; j++) {
                    float cos = table.cos(pos, j);
                    float sin = direction * table.sin(pos, j);
                    int i0 = base + layout.first(j, HS);
                    int i1 = base + layout.second(j, HS);
                    float a = x[i0];
                    float b = x[i1];
                    x[i0] = a * cos - b * sin;
                    x[i1] = a * sin + b * cos;
                }
            }
        }
    }

    public static void check(String kernel, float[] x, String name, int[] positions, int rows, int heads,
                              RopeTable table) {
        if (table == null) throw new NullPointerException(kernel + ": table is null");
        Checks.checkPositive(kernel, "rows", rows);
        Checks.checkPositive(kernel, "heads", heads);
        long n = (long) rows * heads * table.headSize();
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException(kernel + ": rows·heads·HS = " + n + " exceeds 2^31 − 1");
        Checks.checkLength(kernel, name, x, n, "(rows, heads·HS) row-major");
        Checks.checkLength(kernel, "positions", positions, rows, "(rows)");
        for (int r = 0; r < rows; r++) {
            if (positions[r] < 0 || positions[r] >= table.maxPositions()) {
                throw new IllegalArgumentException(kernel + ": positions[" + r + "] = " + positions[r]
                        + " is outside the rope table's [0, " + table.maxPositions()
                        + "): build the table with a larger maxPositions");
            }
        }
    }
}
