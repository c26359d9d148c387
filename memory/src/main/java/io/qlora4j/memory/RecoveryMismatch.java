package io.qlora4j.memory;

/**
 * The host tier holds pages of a buffer owner that do not form that buffer as registered: pages are missing (they were
 * on the device when the run stopped and had never been written out), sizes differ, or the pages carry different
 * versions (written at different optimizer steps, so not one snapshot). Nothing was registered. The caller either
 * discards those pages ({@link MemoryManager#discardRecovered}) and restores the state from a checkpoint, or starts a
 * fresh run directory.
 */
public record RecoveryMismatch(String owner, String hostTier, String detail) implements RegistrationResult, Refusal {

    @Override
    public String message() {
        return "cannot resume buffer '" + owner + "' from host tier " + hostTier + ": " + detail
                + ". Discard those pages (discardRecovered) and restore the state from a checkpoint, or start a fresh run directory.";
    }

    @Override
    public String toString() {
        return message();
    }
}
