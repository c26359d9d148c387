package io.qlora4j.memory;

import io.qlora4j.memory.tier.ArenaDeviceTier;
import io.qlora4j.memory.tier.ChronicleHostTier;
import io.qlora4j.memory.tier.DeviceTier;
import io.qlora4j.memory.tier.HostTier;
import io.qlora4j.memory.tier.PageRecord;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The device memory budget and the paging policy: QLoRA's paged optimizers, made explicit. Every large allocation is
 * accounted here against one hard byte budget, per {@link Category}: weights, activations, recomputation buffers and
 * temporaries as {@link Lease}s ({@link #allocate}/{@link #release(Lease)}), optimizer state as {@link PagedBuffer}s
 * of fixed-size pages ({@link #register}). When a request would exceed the budget, optimizer pages are evicted to the
 * host tier (in the order {@link PageTable} explains: the page whose next use in the optimizer's sweep is furthest away
 * first) and the request is granted; a request that cannot be met even then, or with paging off, is refused with an
 * {@link OutOfDeviceMemory} that says what was needed, what is resident and what would fit. Pages come back through
 * {@link #acquire}, which pins them for the optimizer update; releasing activation memory, or {@link #prefetch()},
 * starts a background page-in so the update waits only for pages not yet back. {@link #endStep} returns the step's
 * {@link PagingStats}.
 *
 * <p>Reference: bitsandbytes {@code optim/optimizer.py} with {@code GlobalPageManager}: paged state is allocated with
 * {@code cudaMallocManaged}, the CUDA driver evicts it to host RAM under GPU memory pressure, and
 * {@code cudaMemPrefetchAsync} brings it back before each parameter's update. Here the same cycle is explicit and
 * deterministic: the policy (this class, {@link PageTable}) decides, the tiers ({@link DeviceTier}, {@link HostTier})
 * move bytes, so a simulator can drive this manager with simulated tiers, a virtual {@link NanoClock} and its own
 * page-in {@link Executor}.
 *
 * <p>Not the owner of tensors (leases are accounting; parameters and gradients stay the model's arrays), not an
 * actor: every operation is a method call returning a value, refusals included, so a message-driven shell is a
 * one-to-one mapping. Thread-safe (one lock); the page-in runs on the injected executor.
 *
 * <p><b>Durability.</b> A page in the host tier is durable (checksummed, stamped with the version its writer passed to
 * {@link Access#write}); a page on the device is not. After a kill, a restarted manager verifies every page of the
 * file and rebuilds its page table from them; {@link #register} adopts a buffer only if all its pages are there with
 * one version, i.e. if it was {@link #flush() flushed} after its last write. A checkpoint therefore calls
 * {@link #flush()}. {@link #close()} does not flush: closing without a flush is what a crash leaves behind.
 */
public final class MemoryManager implements AutoCloseable {
    /** The host tier file inside {@code <run directory>/paging/}. */
    public static final String HOST_TIER_FILE = "host-tier.cm";

    private final PagingConfig config;
    private final int pageBytes;
    private final DeviceTier device;
    private final HostTier host;
    private final NanoClock clock;
    private final Executor pageInExecutor;
    private final Runnable onClose;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();   // a page landed or left, a pin or lease was released
    private final DeviceBudget budget;
    private final PageTable table = new PageTable();
    private final StatsRecorder stats = new StatsRecorder();
    private final RecoveredPages recovered;
    private final Map<Long, Lease> leases = new HashMap<>();
    private final Map<String, PagedBuffer> buffers = new LinkedHashMap<>();
    private long nextLeaseId = 1;
    private long nextPageId;
    private long transientHeadroom;      // largest transient lease this step: room the background page-in leaves free
    private boolean prefetchWanted;
    private boolean prefetchRunning;
    private long prefetchHeadroom;
    private RuntimeException prefetchFailure;
    private boolean closed;

    private MemoryManager(PagingConfig config, DeviceTier device, HostTier host, NanoClock clock, Executor pageInExecutor,
                          Runnable onClose, RecoveredPages recovered) {
        this.config = config;
        this.pageBytes = config.pageBytes();
        this.device = device;
        this.host = host;
        this.clock = clock;
        this.pageInExecutor = pageInExecutor;
        this.onClose = onClose;
        this.budget = new DeviceBudget(config.deviceBudgetBytes());
        this.recovered = recovered;
        this.nextPageId = recovered.maxPageId() + 1;
    }

    /**
     * A manager over the given tiers, which it owns from now on (closed by {@link #close()}, or right away if this
     * fails). Verifies every page of the host tier and remembers them for adoption by {@link #register}.
     *
     * @param pageInExecutor runs the background page-in; must run what is submitted ({@code Runnable::run} runs it inline)
     * @throws PagingException naming the file and the first bad page if the host tier does not verify
     */
    public static MemoryManager create(PagingConfig config, DeviceTier device, HostTier host, NanoClock clock,
                                       Executor pageInExecutor) {
        return start(config, device, host, clock, pageInExecutor, () -> {
        });
    }

    /**
     * The trainer's manager: an {@link ArenaDeviceTier} of the budget's size and a {@link ChronicleHostTier} in
     * {@code <runDirectory>/paging/host-tier.cm} (reopened and verified if it exists), with its own page-in thread.
     *
     * @param hostCapacityBytes bytes of optimizer state the host tier is sized for (it can grow 4x beyond)
     */
    public static MemoryManager openRunDirectory(Path runDirectory, PagingConfig config, long hostCapacityBytes) {
        Path dir = runDirectory.resolve("paging");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new PagingException("cannot create the paging directory " + dir + ": " + e, dir.toString(), PagingException.NO_PAGE, e);
        }
        ArenaDeviceTier device = new ArenaDeviceTier(config.deviceBudgetBytes(), config.pageBytes());
        HostTier host;
        try {
            host = ChronicleHostTier.open(dir.resolve(HOST_TIER_FILE), config.pageBytes(),
                    Math.ceilDiv(Math.max(hostCapacityBytes, 1), config.pageBytes()));
        } catch (RuntimeException e) {
            device.close();
            throw e;
        }
        ExecutorService pageIn = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "qlora4j-page-in");
            t.setDaemon(true);
            return t;
        });
        return start(config, device, host, NanoClock.SYSTEM, pageIn, pageIn::shutdown);
    }

    private static MemoryManager start(PagingConfig config, DeviceTier device, HostTier host, NanoClock clock,
                                       Executor pageInExecutor, Runnable onClose) {
        try {
            if (device.pageBytes() != config.pageBytes() || host.pageBytes() != config.pageBytes()) {
                throw new IllegalArgumentException("page sizes differ: config " + config.pageBytes() + ", device tier "
                        + device.pageBytes() + ", host tier " + host.pageBytes() + " (" + host.location() + ")");
            }
            if (device.capacityBytes() < config.deviceBudgetBytes() / config.pageBytes() * config.pageBytes()) {
                throw new IllegalArgumentException("device tier holds " + device.capacityBytes() + " bytes, less than the "
                        + config.deviceBudgetBytes() + "-byte budget it must back");
            }
            RecoveredPages recovered = new RecoveredPages(host.verifyAll(), host.location());
            return new MemoryManager(config, Objects.requireNonNull(device), host, Objects.requireNonNull(clock),
                    Objects.requireNonNull(pageInExecutor), onClose, recovered);
        } catch (RuntimeException e) {
            closeAll(device, host, onClose, e);
            throw e;
        }
    }

    public PagingConfig config() {
        return config;
    }

    // ---------------------------------------------------------------------------------------------- leases

    /**
     * Accounts {@code bytes} of device memory for {@code category}, evicting optimizer pages if needed.
     *
     * @return the {@link Lease}, or {@link OutOfDeviceMemory} (nothing changed) if even evicting every evictable page
     * would not make room
     */
    public AllocationResult allocate(Category category, long bytes, String label) {
        Objects.requireNonNull(category, "category");
        Objects.requireNonNull(label, "label");
        if (bytes <= 0) throw new IllegalArgumentException("allocation '" + label + "' of " + bytes + " bytes: must be positive");
        if (category == Category.OPTIMIZER_STATE) {
            throw new IllegalArgumentException("optimizer state is registered as a paged buffer (register), not leased: '" + label + "'");
        }
        lock.lock();
        try {
            ensureOpen();
            while (!makeRoom(bytes, true)) {
                if (table.pagesInFlight() == 0) {
                    stats.refused();
                    return refusal(category, label, bytes);
                }
                changed.awaitUninterruptibly();   // a page-in holds a slot; once it lands it can be evicted
            }
            budget.add(category, bytes);
            if (category.isTransient()) transientHeadroom = Math.max(transientHeadroom, bytes);
            Lease lease = new Lease(nextLeaseId++, category, bytes, label);
            leases.put(lease.id(), lease);
            return lease;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Gives a lease back. Releasing activation or recomputation memory starts the background page-in (if configured).
     * While other transient leases are still out (backward is still running) it leaves room for the largest transient
     * lease of this step, so the rest of backward does not evict again what was just brought back; once the last one
     * is released it fills all free room.
     */
    public Released release(Lease lease) {
        boolean start;
        lock.lock();
        try {
            ensureOpen();
            if (!lease.equals(leases.get(lease.id()))) {
                throw new IllegalStateException(lease + " was already released or is not from this manager");
            }
            leases.remove(lease.id());
            budget.subtract(lease.category(), lease.bytes());
            start = config.prefetchOnRelease()
                    && (lease.category() == Category.ACTIVATIONS || lease.category() == Category.RECOMPUTATION)
                    && requestPrefetch(transientBytes() > 0 ? transientHeadroom : 0);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        if (start) launchPrefetch();
        return new Released(lease, start);
    }

    // ---------------------------------------------------------------------------------------------- paged buffers

    /**
     * Registers a buffer of {@code bytes} bytes in pages. If the host tier holds pages of this owner from an earlier
     * run, they are adopted when they form exactly this buffer with one version
     * ({@link PagedBuffer#recoveredVersion()}); otherwise the reply is a {@link RecoveryMismatch}. A fresh buffer is
     * all zeros; its pages are placed on the device while there is free room and cost nothing elsewhere until written.
     * With paging off every buffer is {@link BufferPolicy#ALWAYS_RESIDENT}.
     *
     * @return the buffer, {@link OutOfDeviceMemory} for a resident buffer that does not fit, or {@link RecoveryMismatch}
     */
    public RegistrationResult register(String owner, long bytes, BufferPolicy policy) {
        PageRecord.checkOwner(owner);
        Objects.requireNonNull(policy, "policy");
        if (bytes <= 0) throw new IllegalArgumentException("buffer '" + owner + "' of " + bytes + " bytes: must be positive");
        long pageCount = Math.ceilDiv(bytes, (long) pageBytes);
        if (pageCount > Integer.MAX_VALUE) throw new IllegalArgumentException("buffer '" + owner + "' of " + bytes + " bytes has too many pages");
        int pages = (int) pageCount;
        BufferPolicy effective = config.pagingEnabled() ? policy : BufferPolicy.ALWAYS_RESIDENT;
        lock.lock();
        try {
            ensureOpen();
            if (buffers.containsKey(owner)) throw new IllegalArgumentException("a buffer named '" + owner + "' is already registered");
            List<PageRecord> records = recovered.get(owner);
            PagedBuffer buffer;
            if (records != null) {
                String problem = RecoveredPages.mismatch(records, bytes, pageBytes);
                if (problem != null) return new RecoveryMismatch(owner, host.location(), problem);
                buffer = new PagedBuffer(owner, bytes, pageBytes, records.getFirst().pageId(), pages, effective,
                        OptionalLong.of(records.getFirst().version()));
            } else {
                buffer = new PagedBuffer(owner, bytes, pageBytes, nextPageId, pages, effective, OptionalLong.empty());
            }
            long resident = effective == BufferPolicy.ALWAYS_RESIDENT ? pageCount * pageBytes : 0;
            while (!makeRoom(resident, true)) {
                if (table.pagesInFlight() == 0) {
                    stats.refused();
                    return refusal(Category.OPTIMIZER_STATE, owner, resident);
                }
                changed.awaitUninterruptibly();
            }
            List<PageEntry> entries = new ArrayList<>(pages);
            try {
                for (int i = 0; i < pages; i++) {
                    PageEntry e = new PageEntry(buffer.firstPageId() + i, buffer, i);
                    if (records != null) {
                        e.hostCopy = true;
                        e.version = records.get(i).version();
                    }
                    table.add(e);
                    entries.add(e);
                }
                // The lock stays held while these pages come in, so the background page-in cannot pick them up.
                for (PageEntry e : entries) {
                    boolean place = effective == BufferPolicy.ALWAYS_RESIDENT || (records == null && budget.free() >= pageBytes);
                    if (!place) break;
                    pageIn(e, reserveSlot(e), false);
                }
            } catch (RuntimeException failure) {
                for (PageEntry e : entries) dropEntry(e, false);
                throw failure;
            }
            if (records != null) recovered.remove(owner);
            else nextPageId += pages;
            buffers.put(owner, buffer);
            return buffer;
        } finally {
            lock.unlock();
        }
    }

    /** Forgets a buffer: frees its device slots and removes its pages from the host tier. No page may be pinned. */
    public void unregister(PagedBuffer buffer) {
        lock.lock();
        try {
            ensureOpen();
            checkRegistered(buffer);
            List<PageEntry> entries = entriesOf(buffer);
            while (entries.stream().anyMatch(e -> e.residency == Residency.PAGING_IN)) changed.awaitUninterruptibly();
            for (PageEntry e : entries) {
                if (e.pins > 0) throw new IllegalStateException(buffer + " has pinned pages (page " + e.index + "): unpin before unregistering");
            }
            for (PageEntry e : entries) dropEntry(e, true);
            buffers.remove(buffer.owner());
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Owners of host-tier pages from an earlier run that no {@link #register} has adopted yet. */
    public Set<String> recoveredOwners() {
        lock.lock();
        try {
            return Set.copyOf(recovered.owners());
        } finally {
            lock.unlock();
        }
    }

    /** Removes an owner's unadopted pages from the host tier (after a {@link RecoveryMismatch}); returns how many. */
    public int discardRecovered(String owner) {
        lock.lock();
        try {
            ensureOpen();
            List<PageRecord> records = recovered.remove(owner);
            if (records == null) return 0;
            for (PageRecord r : records) host.remove(r.pageId());
            return records.size();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Pins the pages covering {@code [offset, offset + length)} of the buffer on the device, paging in those that are
     * not (waiting for page-ins already under way, evicting the pages needed furthest in the future to make room).
     * Time spent waiting counts as stall. A write access marks the pages dirty with its version.
     *
     * @return the {@link Pin}, or {@link OutOfDeviceMemory} (nothing pinned) when the pages cannot all be on the device
     * at once
     */
    public AcquireResult acquire(PagedBuffer buffer, long offset, long length, Access access) {
        Objects.requireNonNull(access, "access");
        if (offset < 0 || length <= 0 || offset > buffer.byteSize() - length) {
            throw new IndexOutOfBoundsException("range [" + offset + ", " + (offset + length) + ") is outside " + buffer);
        }
        int first = (int) (offset / pageBytes);
        int last = (int) ((offset + length - 1) / pageBytes);
        List<PageEntry> pinned = new ArrayList<>(last - first + 1);
        long start = clock.nanoTime();
        boolean waited = false;
        lock.lock();
        try {
            ensureOpen();
            checkRegistered(buffer);
            rethrowPrefetchFailure();
            try {
                for (int i = first; i <= last; i++) {
                    PageEntry e = table.get(buffer.firstPageId() + i);
                    while (e.residency != Residency.DEVICE) {
                        waited = true;
                        if (e.residency == Residency.HOST && makeRoom(pageBytes, false)) {
                            int slot = reserveSlot(e);
                            lock.unlock();   // let the background page-in land other pages meanwhile
                            try {
                                pageIn(e, slot, false);
                            } finally {
                                lock.lock();
                            }
                        } else if (table.pagesInFlight() > 0) {
                            changed.awaitUninterruptibly();
                        } else {
                            unpinAll(pinned, access);
                            stats.refused();
                            return refusal(Category.OPTIMIZER_STATE, "pages " + first + ".." + last + " of '" + buffer.owner() + "'",
                                    (long) (last - first + 1) * pageBytes);
                        }
                    }
                    table.pin(e, access.write());
                    pinned.add(e);
                }
            } catch (RuntimeException failure) {
                unpinAll(pinned, access);
                throw failure;
            }
            MemorySegment[] views = new MemorySegment[pinned.size()];
            for (int k = 0; k < views.length; k++) {
                PageEntry e = pinned.get(k);
                if (access.write()) {
                    e.dirty = true;
                    e.version = access.version();
                }
                views[k] = device.view(e.slot).asSlice(0, e.payloadBytes);
                device.prefetchHint(e.slot);
            }
            table.used(buffer.firstPageId() + last);
            if (waited) stats.stalled(clock.nanoTime() - start);
            return new Pin(buffer, offset, length, access, first, views);
        } finally {
            lock.unlock();
        }
    }

    /** Releases a pin: its pages may be evicted again. */
    public void unpin(Pin pin) {
        lock.lock();
        try {
            ensureOpen();
            if (pin.released()) throw new IllegalStateException("pin of " + pin.buffer() + " unpinned twice");
            checkRegistered(pin.buffer());
            for (int i = pin.firstPage(); i <= pin.lastPage(); i++) {
                table.unpin(table.get(pin.buffer().firstPageId() + i), pin.access().write());
            }
            pin.markReleased();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Starts the background page-in of every page off the device, nearest next use first, into free room only (it never
     * evicts). {@link #acquire} then waits only for pages not yet back.
     */
    public PrefetchScheduled prefetch() {
        boolean start;
        int offDevice;
        lock.lock();
        try {
            ensureOpen();
            rethrowPrefetchFailure();
            offDevice = table.hostPages();
            start = requestPrefetch(0);
        } finally {
            lock.unlock();
        }
        if (start) launchPrefetch();
        return new PrefetchScheduled(offDevice);
    }

    /** Evicts pages (in eviction order) until at least {@code bytes} of device room were freed or none is evictable. */
    public Evicted evict(long bytes) {
        lock.lock();
        try {
            ensureOpen();
            int pages = 0;
            long written = 0;
            PageEntry e;
            while ((long) pages * pageBytes < bytes && (e = table.nextVictim()) != null) {
                if (e.dirty) written += e.payloadBytes;
                evictOne(e);
                pages++;
            }
            return new Evicted(pages, written);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Writes every page whose current bytes are not in the host tier (dirty device pages, and zero pages never
     * written), so that the host tier alone holds every buffer: what a checkpoint needs. No page may be pinned for
     * writing.
     */
    public Flushed flush() {
        lock.lock();
        try {
            ensureOpen();
            while (table.pagesInFlight() > 0) changed.awaitUninterruptibly();
            for (PageEntry e : table.all()) {
                if (e.writePins > 0) {
                    throw new IllegalStateException("cannot flush while page " + e.index + " of " + e.buffer + " is pinned for writing: finish the update first");
                }
            }
            int pages = 0;
            long bytes = 0;
            for (PageEntry e : table.all()) {
                if (e.residency == Residency.DEVICE && (e.dirty || !e.hostCopy)) {
                    writeBack(e);
                } else if (e.residency == Residency.HOST && !e.hostCopy) {
                    host.writeZeros(e.record());
                    e.hostCopy = true;
                    stats.pagedOut(e.payloadBytes);
                } else {
                    continue;
                }
                pages++;
                bytes += e.payloadBytes;
            }
            return new Flushed(pages, bytes);
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------- observation

    /** Ends a step: returns its statistics and starts the next step's counters and peaks. */
    public PagingStats endStep(long step) {
        lock.lock();
        try {
            PagingStats s = stats.finish(step, budget);
            budget.resetPeaks();
            transientHeadroom = 0;
            return s;
        } finally {
            lock.unlock();
        }
    }

    /** Where one page of a registered buffer is now. */
    public Residency residency(PagedBuffer buffer, int pageIndex) {
        lock.lock();
        try {
            checkRegistered(buffer);
            return table.get(buffer.firstPageId() + Objects.checkIndex(pageIndex, buffer.pageCount())).residency;
        } finally {
            lock.unlock();
        }
    }

    public MemorySnapshot snapshot() {
        lock.lock();
        try {
            return new MemorySnapshot(budget.limit(), budget.resident(), (long) table.evictablePages() * pageBytes,
                    table.devicePages(), table.hostPages(), table.pagesInFlight(), leases.size(), buffers.size(), device.slotsInUse());
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether one {@link #acquire} of {@code bytes} of pageable pages could succeed right now: they must fit in the
     * budget minus leases minus pages that cannot move. A client that will acquire several ranges one after another
     * checks its largest range first, so that it is never refused halfway through.
     *
     * @return empty if it fits, else the refusal an acquire would give
     */
    public Optional<OutOfDeviceMemory> checkPinnable(String label, long bytes) {
        lock.lock();
        try {
            long pinnable = budget.limit() - (budget.total() - budget.of(Category.OPTIMIZER_STATE)) - (long) table.lockedPages() * pageBytes;
            return bytes <= pinnable ? Optional.empty() : Optional.of(refusal(Category.OPTIMIZER_STATE, label, bytes));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops the page-in and releases both tiers. Does not flush: device pages that were not written to the host tier
     * are lost, exactly as in a crash.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            prefetchWanted = false;
            while (prefetchRunning || table.pagesInFlight() > 0) changed.awaitUninterruptibly();
        } finally {
            lock.unlock();
        }
        closeAll(device, host, onClose, null);
    }

    // ---------------------------------------------------------------------------------------------- internals (lock held)

    /** Makes {@code bytes} free by evicting; false, with nothing evicted, if all evictable pages would not suffice. */
    private boolean makeRoom(long bytes, boolean stopPrefetch) {
        if (budget.free() >= bytes) return true;
        if (!config.pagingEnabled()) return false;
        if (stopPrefetch) prefetchWanted = false;   // a spike: stop bringing pages back that would be evicted again
        if (budget.free() + (long) table.evictablePages() * pageBytes < bytes) return false;
        while (budget.free() < bytes) evictOne(table.nextVictim());
        return true;
    }

    private void evictOne(PageEntry e) {
        if (e.dirty) writeBack(e);
        device.free(e.slot);
        table.toHost(e);
        budget.subtract(Category.OPTIMIZER_STATE, pageBytes);
        stats.evicted();
        changed.signalAll();
    }

    private void writeBack(PageEntry e) {
        host.write(e.record(), device, e.slot);
        e.dirty = false;
        e.hostCopy = true;
        stats.pagedOut(e.payloadBytes);
    }

    private int reserveSlot(PageEntry e) {
        budget.add(Category.OPTIMIZER_STATE, pageBytes);
        var slot = device.allocate();
        if (slot.isEmpty()) {
            budget.subtract(Category.OPTIMIZER_STATE, pageBytes);
            throw new IllegalStateException("device tier has no free slot although the budget has room (" + device.slotsInUse()
                    + " slots in use, capacity " + device.capacityBytes() + " bytes)");
        }
        table.toPagingIn(e, slot.getAsInt());
        return slot.getAsInt();
    }

    /** Fills a reserved slot from the host tier (or with zeros) and puts the page on the device; on failure the page goes back off the device. Called with or without the lock. */
    private void pageIn(PageEntry e, int slot, boolean background) {
        boolean fromHost = e.hostCopy;
        try {
            if (fromHost) host.read(e.record(), device, slot);
            else device.zero(slot);
        } catch (RuntimeException failure) {
            lock.lock();
            try {
                device.free(slot);
                table.toHost(e);
                budget.subtract(Category.OPTIMIZER_STATE, pageBytes);
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            throw failure;
        }
        lock.lock();
        try {
            table.toDevice(e, slot);
            stats.pagedIn(fromHost ? e.payloadBytes : 0, background);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void dropEntry(PageEntry e, boolean removeHostCopy) {
        if (e.residency == Residency.DEVICE) {
            device.free(e.slot);
            budget.subtract(Category.OPTIMIZER_STATE, pageBytes);
        }
        table.remove(e);
        if (removeHostCopy && e.hostCopy) host.remove(e.id);
    }

    private void unpinAll(List<PageEntry> pinned, Access access) {
        for (PageEntry p : pinned) table.unpin(p, access.write());
        pinned.clear();
        changed.signalAll();
    }

    private long transientBytes() {
        return budget.of(Category.ACTIVATIONS) + budget.of(Category.RECOMPUTATION) + budget.of(Category.TEMPORARIES);
    }

    private boolean requestPrefetch(long headroom) {
        if (!config.pagingEnabled() || table.hostPages() == 0) return false;
        prefetchWanted = true;
        prefetchHeadroom = headroom;
        if (prefetchRunning) return false;
        prefetchRunning = true;
        return true;
    }

    private void launchPrefetch() {
        try {
            pageInExecutor.execute(this::prefetchLoop);
        } catch (RuntimeException e) {
            lock.lock();
            try {
                prefetchRunning = false;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            throw e;
        }
    }

    /** The background page-in: one page at a time, nearest next use first, into free room beyond the headroom. */
    private void prefetchLoop() {
        while (true) {
            PageEntry e;
            int slot;
            lock.lock();
            try {
                e = prefetchWanted && !closed ? table.nextToFetch() : null;
                if (e == null || budget.free() - prefetchHeadroom < pageBytes) {
                    if (e == null) prefetchWanted = false;
                    prefetchRunning = false;
                    changed.signalAll();
                    return;
                }
                slot = reserveSlot(e);
            } finally {
                lock.unlock();
            }
            try {
                pageIn(e, slot, true);
            } catch (RuntimeException failure) {
                lock.lock();
                try {
                    prefetchFailure = failure;   // rethrown to the next acquire or prefetch
                    prefetchWanted = false;
                    prefetchRunning = false;
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
                return;
            }
        }
    }

    private void rethrowPrefetchFailure() {
        RuntimeException f = prefetchFailure;
        if (f == null) return;
        prefetchFailure = null;
        if (f instanceof PagingException p) {
            throw new PagingException("background page-in failed: " + p.getMessage(), p.location(), p.pageId(), p);
        }
        throw new PagingException("background page-in failed: " + f, host.location(), PagingException.NO_PAGE, f);
    }

    private OutOfDeviceMemory refusal(Category category, String label, long bytes) {
        return new OutOfDeviceMemory(category, label, bytes, budget.limit(), budget.resident(),
                (long) table.evictablePages() * pageBytes, config.pagingEnabled());
    }

    private List<PageEntry> entriesOf(PagedBuffer buffer) {
        List<PageEntry> entries = new ArrayList<>(buffer.pageCount());
        for (int i = 0; i < buffer.pageCount(); i++) entries.add(table.get(buffer.firstPageId() + i));
        return entries;
    }

    private void checkRegistered(PagedBuffer buffer) {
        if (buffers.get(buffer.owner()) != buffer) throw new IllegalStateException(buffer + " is not registered with this manager");
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("memory manager is closed");
    }

    private static void closeAll(DeviceTier device, HostTier host, Runnable onClose, RuntimeException pending) {
        RuntimeException failure = pending;
        for (Runnable step : new Runnable[]{device::close, host::close, onClose}) {
            try {
                step.run();
            } catch (RuntimeException e) {
                if (failure == null) failure = e;
                else failure.addSuppressed(e);
            }
        }
        if (failure != null && failure != pending) throw failure;
    }
}
