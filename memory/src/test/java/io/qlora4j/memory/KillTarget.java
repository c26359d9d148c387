package io.qlora4j.memory;

import java.nio.file.Path;

/**
 * The process {@link KillAndReopenTest} kills: pages a 16-page buffer through an 8-page budget forever, writing every page
 * at version v with {@link KillAndReopenTest#contents}, flushing after each round, printing the round number.
 */
final class KillTarget {
    private KillTarget() {
    }

    public static void main(String[] args) {
        PagingConfig config = new PagingConfig(8L * KillAndReopenTest.PAGE, KillAndReopenTest.PAGE, true, true);
        MemoryManager m = MemoryManager.openRunDirectory(Path.of(args[0]), config, 16L * KillAndReopenTest.PAGE);
        PagedBuffer b = (PagedBuffer) m.register("adamw", KillAndReopenTest.BYTES, BufferPolicy.PAGEABLE);
        for (long v = 1; ; v++) {
            for (int p = 0; p < b.pageCount(); p++) {
                Fixture.write(m, b, (long) p * KillAndReopenTest.PAGE, KillAndReopenTest.contents(p, v, b.payloadBytes(p)), v);
            }
            m.flush();
            System.out.println("round " + v);
        }
    }
}
