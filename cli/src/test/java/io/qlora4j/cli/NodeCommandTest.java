package io.qlora4j.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input to the cluster commands: one clear line each, exit code 1, no stack trace. */
class NodeCommandTest {

    @Test
    void aSeedThatIsNotHostPortIsRefused() {
        CliRun r = CliRun.run("node", "--port", "2552", "--seed-nodes", "localhost");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("seed node 'localhost' is not HOST:PORT (for example 127.0.0.1:2552)"), r.err());
        assertTrue(!r.err().contains("\tat "), "no stack trace: " + r.err());
    }

    @Test
    void aNodeWithoutSeedsIsRefused() {
        CliRun r = CliRun.run("node", "--port", "2552");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("no seed nodes: pass --seed-nodes HOST:PORT"), r.err());
    }

    @Test
    void dataFolderNeedsTheDataRole() {
        CliRun r = CliRun.run("node", "--port", "2552", "--seed-nodes", "127.0.0.1:2552", "--data-dir", "/tmp");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("--data-dir is for --role data"), r.err());
    }

    @Test
    void clusterJobNeedsTheNodeCount() {
        CliRun r = CliRun.run("finetune", "--model", "m", "--data", "d", "--cluster", "127.0.0.1:2552");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("--cluster 127.0.0.1:2552 needs --nodes N"), r.err());
    }

    @Test
    void moreNodesThanMicroBatchesIsRefused() {
        CliRun r = CliRun.run("finetune", "--model", "m", "--data", "d", "--cluster", "127.0.0.1:2552", "--nodes", "5", "--grad-accum", "4");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("--nodes 5 > --grad-accum 4") && r.err().contains("raise --grad-accum"), r.err());
    }

    @Test
    void waitPolicyIsFailOrWait() {
        CliRun r = CliRun.run("finetune", "--model", "m", "--data", "d", "--cluster", "127.0.0.1:2552", "--nodes", "2",
                "--wait-for-nodes", "maybe");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("--wait-for-nodes 'maybe': expected fail or wait"), r.err());
    }
}
