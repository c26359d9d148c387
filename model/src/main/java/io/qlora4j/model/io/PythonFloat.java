package io.qlora4j.model.io;

import java.math.BigDecimal;

/**
 * Formats a double as Python's {@code repr(float)} / {@code json.dumps} do (shortest round-trip digits; fixed notation
 * when the decimal exponent is in [-4, 16), else {@code 1e-05} style), so JSON we write for bitsandbytes matches the bytes
 * Python writes.
 */
final class PythonFloat {
    private PythonFloat() {
    }

    static String repr(double x) {
        if (Double.isNaN(x)) return "NaN";
        if (Double.isInfinite(x)) return x > 0 ? "Infinity" : "-Infinity";
        if (x == 0) return (Double.doubleToRawLongBits(x) < 0 ? "-" : "") + "0.0";
        // Double.toString gives the shortest digits that round-trip (JDK 19+), as Python's repr does; only the layout differs.
        BigDecimal d = new BigDecimal(Double.toString(Math.abs(x))).stripTrailingZeros();
        String digits = d.unscaledValue().toString();
        int decimalPoint = digits.length() - d.scale();     // value = 0.digits × 10^decimalPoint
        String sign = x < 0 ? "-" : "";
        if (decimalPoint > -4 && decimalPoint <= 16) {
            if (decimalPoint <= 0) return sign + "0." + "0".repeat(-decimalPoint) + digits;
            if (decimalPoint >= digits.length()) return sign + digits + "0".repeat(decimalPoint - digits.length()) + ".0";
            return sign + digits.substring(0, decimalPoint) + "." + digits.substring(decimalPoint);
        }
        int exponent = decimalPoint - 1;
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
    }
}
