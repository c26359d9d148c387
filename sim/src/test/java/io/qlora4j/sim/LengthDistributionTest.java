package io.qlora4j.sim;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LengthDistributionTest {

    private static int[] draw(String spec, int n) {
        LengthDistribution d = LengthDistribution.parse(spec);
        SplittableRandom r = new SplittableRandom(3);
        int[] v = new int[n];
        for (int i = 0; i < n; i++) v[i] = d.sample(r);
        return v;
    }

    @Test
    void parsesEverySpecAndRoundTrips() {
        for (String spec : new String[]{"fixed:512", "uniform:64-512", "lognormal:median=200,sigma=0.8,max=2048",
                "longtail:short=64-256,long=2048,p=0.02"}) {
            assertEquals(spec, LengthDistribution.parse(spec).spec());
        }
        assertEquals(2048, LengthDistribution.parse("longtail:long=2048,p=0.5,short=1-9").max());
    }

    @Test
    void samplesStayInRangeWithTheRightShape() {
        assertTrue(Arrays.stream(draw("fixed:77", 100)).allMatch(t -> t == 77));
        int[] u = draw("uniform:64-512", 10_000);
        assertEquals(64, Arrays.stream(u).min().orElseThrow());
        assertEquals(512, Arrays.stream(u).max().orElseThrow());
        int[] ln = draw("lognormal:median=200,sigma=0.8,max=2048", 20_001);
        Arrays.sort(ln);
        assertTrue(Math.abs(ln[10_000] - 200) <= 8, "median " + ln[10_000]);
        assertTrue(ln[0] >= 1 && ln[ln.length - 1] <= 2048);
        long longOnes = Arrays.stream(draw("longtail:short=64-256,long=2048,p=0.05", 20_000)).filter(t -> t == 2048).count();
        assertTrue(Math.abs(longOnes - 1000) < 150, "long sequences " + longOnes);
    }

    @Test
    void badSpecsSayWhatIsWrong() {
        assertMessage("nope", "no ':'");
        assertMessage("gaussian:1", "unknown distribution 'gaussian'");
        assertMessage("fixed:abc", "not a number");
        assertMessage("fixed:0", "length must be >= 1");
        assertMessage("uniform:512-64", "range is empty");
        assertMessage("uniform:64", "must be MIN-MAX");
        assertMessage("lognormal:median=200,sigma=0.8", "missing max=");
        assertMessage("lognormal:median=200,sigma=0.8,max=9,mean=3", "unknown key 'mean'");
        assertMessage("longtail:short=64-256,long=2048,p=1.5", "p must be in [0, 1]");
    }

    private static void assertMessage(String spec, String expected) {
        SimulationException e = assertThrows(SimulationException.class, () -> LengthDistribution.parse(spec));
        assertTrue(e.getMessage().contains(expected) && e.getMessage().contains(spec), e.getMessage());
    }
}
