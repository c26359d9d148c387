package io.qlora4j.model.train;

/**
 * A training step needed more device memory than the budget allows, even after paging optimizer state out (or with
 * paging off). The message is the memory manager's: how much was needed, what is resident, what would fit. Nothing of
 * the step has been applied: parameters and optimizer state are as before it.
 */
public class DeviceOutOfMemoryException extends RuntimeException {
    public DeviceOutOfMemoryException(String message) {
        super(message);
    }
}
