package io.qlora4j.memory.optim;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The layout rules that make paging and version stamps sound, on random parameter lists. */
class StateLayoutTest {
    private static final int PAGE = 4096;

    @Test
    void groupsNeverShareAPageAndSectionsNeverStraddleOne() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int trial = 0; trial < 200; trial++) {
            List<ParamSpec> params = new ArrayList<>();
            int count = 1 + rnd.nextInt(12);
            for (int i = 0; i < count; i++) params.add(new ParamSpec("t" + i, 1 + rnd.nextInt(rnd.nextBoolean() ? 300 : 20_000)));
            StateFormat format = rnd.nextBoolean() ? StateFormat.FP32 : StateFormat.DYNAMIC_8BIT;
            StateLayout layout = StateLayout.of(params, format, PAGE);
            long previousLastPage = -1;
            int next = 0;
            for (StateLayout.Group g : layout.groups) {
                assertEquals(next, g.first(), "groups cover the tensors in order");
                next = g.last() + 1;
                long firstPage = g.offset() / PAGE;
                long lastPage = (g.offset() + g.length() - 1) / PAGE;
                assertTrue(firstPage > previousLastPage, "group " + g + " shares a page with the one before");
                previousLastPage = lastPage;
                for (int i = g.first(); i <= g.last(); i++) {
                    StateLayout.Tensor t = layout.tensors.get(i);
                    assertTrue(t.state1() >= g.offset() && t.end() <= g.offset() + g.length(), t + " outside " + g);
                    for (long section : new long[]{t.state1(), t.state2(), t.absmax1(), t.absmax2()}) assertEquals(0, section % 256);
                    if (t.end() - t.state1() >= PAGE) {
                        assertEquals(0, t.state1() % PAGE, "a tensor of a page or more starts on a page: " + t);
                        assertEquals(i, g.first(), "and is alone in its group");
                        assertEquals(i, g.last());
                    } else {
                        assertEquals(t.state1() / PAGE, (t.end() - 1) / PAGE, "a small tensor lies in one page: " + t);
                    }
                    assertEquals(format == StateFormat.DYNAMIC_8BIT && t.elements() >= 4096, t.eightBit());
                }
            }
            assertEquals(params.size(), next);
            assertEquals(layout.tensors.getLast().end(), layout.bufferBytes);
        }
    }

    @Test
    void namesMustBeUniqueAndKindsParse() {
        assertThrows(IllegalArgumentException.class,
                () -> StateLayout.of(List.of(new ParamSpec("a", 10), new ParamSpec("a", 20)), StateFormat.FP32, PAGE));
        assertEquals(OptimizerKind.PAGED_ADAMW_8BIT, OptimizerKind.parse("paged_adamw_8bit"));
        assertEquals(new AdamWOptions(0.9f, 0.999f, 1e-8f, 0f, StateFormat.FP32, false), OptimizerKind.parse("adamw_32bit").options());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OptimizerKind.parse("adam"));
        assertEquals("unknown optimizer 'adam'; choose one of adamw_32bit, paged_adamw_32bit, paged_adamw_8bit", e.getMessage());
    }
}
