package io.qlora4j.sim;

import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;

import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The acceptance check against reality: the simulated peak of a real CPU run's configuration is within 10%
 * ({@link Calibration#TOLERANCE}) of the peak the memory manager measured in that run.
 */
class CalibrationTest {

    private static void check(Calibration.Outcome o) {
        System.out.printf(Locale.ROOT, "%s: measured %,d B, simulated %,d B, analytic %,d B, deviation %.3f%% (%.1f s)%n",
                o.setup().modelName(), o.measuredPeak(), o.simulatedPeak(), o.analyticPeak(), 100 * o.deviation(), o.seconds());
        assertTrue(o.withinTolerance(), o.setup().modelName() + ": simulated " + o.simulatedPeak() + " vs measured " + o.measuredPeak());
        assertTrue(o.measuredPeak() > 0);
    }

    @Test
    void stories260K() {
        check(Calibration.stories260K(SharedData.require("models/stories260K/stories260K.bin")));
    }

    @Test
    void stories15MShape() {
        check(Calibration.stories15M());
    }
}
