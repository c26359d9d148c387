package io.qlora4j.kernels;

/**
 * Argument checks for kernel entry points (netty's {@code checkPositive(value, "name")} style): each failure message
 * names the kernel, the argument, its value and what was expected, so a shape bug is found at the call, not as an
 * {@code ArrayIndexOutOfBoundsException} deep in a loop. Kernels call these once per call, never inside hot loops.
 *
 * <p>Arrays may be longer than a call needs (buffers are allocated once for the largest shape and reused), so lengths
 * are checked as lower bounds.
 */
public final class Checks {

    private Checks() {
    }

    /** {@code value > 0}, else an {@link IllegalArgumentException} naming {@code kernel} and {@code name}. */
    public static int checkPositive(String kernel, String name, int value) {
        if (value <= 0) throw new IllegalArgumentException(kernel + ": " + name + " must be > 0, got " + value);
        return value;
    }

    /** {@code value >= 0}. */
    public static int checkNonNegative(String kernel, String name, int value) {
        if (value < 0) throw new IllegalArgumentException(kernel + ": " + name + " must be >= 0, got " + value);
        return value;
    }

    /** {@code array} is non-null and holds at least {@code needed} elements laid out as {@code shape}. */
    public static void checkLength(String kernel, String name, float[] array, long needed, String shape) {
        if (array == null) throw new NullPointerException(kernel + ": " + name + " is null, expected " + shape);
        if (array.length < needed) throw tooShort(kernel, name, array.length, needed, shape);
    }

    /** {@code int[]} variant of {@link #checkLength(String, String, float[], long, String)}. */
    public static void checkLength(String kernel, String name, int[] array, long needed, String shape) {
        if (array == null) throw new NullPointerException(kernel + ": " + name + " is null, expected " + shape);
        if (array.length < needed) throw tooShort(kernel, name, array.length, needed, shape);
    }

    /** A slice {@code [offset, offset + length)} of a {@code float[]} lies inside the array. */
    public static void checkSlice(String kernel, String name, float[] array, int offset, long length) {
        if (array == null) throw new NullPointerException(kernel + ": " + name + " is null");
        checkSliceBounds(kernel, name, array.length, offset, length);
    }

    /** A slice {@code [offset, offset + length)} of a {@code byte[]} lies inside the array. */
    public static void checkSlice(String kernel, String name, byte[] array, int offset, long length) {
        if (array == null) throw new NullPointerException(kernel + ": " + name + " is null");
        checkSliceBounds(kernel, name, array.length, offset, length);
    }

    private static void checkSliceBounds(String kernel, String name, int arrayLength, int offset, long length) {
        if (offset < 0 || offset + length > arrayLength) {
            throw new IllegalArgumentException(kernel + ": slice [" + offset + ", " + (offset + length) + ") of " + name
                    + " is outside the array of " + arrayLength + " elements");
        }
    }

    private static IllegalArgumentException tooShort(String kernel, String name, int length, long needed, String shape) {
        return new IllegalArgumentException(kernel + ": " + name + " has " + length + " elements, needs at least "
                + needed + " for " + shape);
    }
}
