package io.qlora4j.memory;

import io.qlora4j.memory.tier.PageRecord;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;

/**
 * The verified pages a reopened host tier holds, grouped by owner, waiting to be adopted by a {@link MemoryManager#register}
 * of the same owner or discarded. Decides whether a group is a complete, consistent buffer.
 */
final class RecoveredPages {
    private final Map<String, List<PageRecord>> byOwner = new LinkedHashMap<>();   // each sorted by pageIndex
    private final long maxPageId;

    RecoveredPages(List<PageRecord> records, String location) {
        Map<String, PageRecord> seen = new HashMap<>();
        long max = -1;
        for (PageRecord r : records) {
            PageRecord other = seen.putIfAbsent(r.owner() + '\0' + r.pageIndex(), r);
            if (other != null) {
                throw new PagingException("host tier file " + location + ": pages " + other.pageId() + " and " + r.pageId()
                        + " both claim to be page " + r.pageIndex() + " of '" + r.owner() + "': the file mixes two runs;"
                        + " move it away and restore from a checkpoint", location, r.pageId());
            }
            byOwner.computeIfAbsent(r.owner(), o -> new ArrayList<>()).add(r);
            max = Math.max(max, r.pageId());
        }
        byOwner.values().forEach(l -> l.sort(Comparator.comparingInt(PageRecord::pageIndex)));
        maxPageId = max;
    }

    long maxPageId() {
        return maxPageId;
    }

    Set<String> owners() {
        return byOwner.keySet();
    }

    List<PageRecord> get(String owner) {
        return byOwner.get(owner);
    }

    List<PageRecord> remove(String owner) {
        return byOwner.remove(owner);
    }

    /** Why these pages are not one complete, consistent buffer of {@code bytes} bytes, or null if they are. */
    static String mismatch(List<PageRecord> pages, long bytes, int pageBytes) {
        PageRecord first = pages.getFirst();
        int expected = Math.toIntExact(Math.ceilDiv(bytes, (long) pageBytes));
        if (first.bufferBytes() != bytes || first.pageCount() != expected) {
            return "the host tier holds a " + first.bufferBytes() + "-byte buffer of " + first.pageCount() + " pages but "
                    + bytes + " bytes were registered (another model, optimizer or page size)";
        }
        if (pages.size() != expected) {
            StringJoiner missing = new StringJoiner(", ");
            int shown = 0;
            int next = 0;
            for (PageRecord r : pages) {
                for (; next < r.pageIndex() && shown < 8; next++, shown++) missing.add(Integer.toString(next));
                next = r.pageIndex() + 1;
            }
            for (; next < expected && shown < 8; next++, shown++) missing.add(Integer.toString(next));
            return (expected - pages.size()) + " of " + expected + " pages are missing (e.g. pages " + missing
                    + "): they were on the device when the run stopped and had not been written out since";
        }
        long minVersion = Long.MAX_VALUE;
        long maxVersion = Long.MIN_VALUE;
        for (PageRecord r : pages) {
            if (r.pageId() != first.pageId() + r.pageIndex()) {
                return "page " + r.pageIndex() + " has id " + r.pageId() + ", expected " + (first.pageId() + r.pageIndex())
                        + " (ids not contiguous: the file was edited)";
            }
            long payload = Math.min(pageBytes, bytes - (long) r.pageIndex() * pageBytes);
            if (r.payloadBytes() != payload) {
                return "page " + r.pageIndex() + " holds " + r.payloadBytes() + " payload bytes, expected " + payload;
            }
            minVersion = Math.min(minVersion, r.version());
            maxVersion = Math.max(maxVersion, r.version());
        }
        if (minVersion != maxVersion) {
            return "its pages carry versions " + minVersion + " to " + maxVersion
                    + " (written at different steps), so they are not one consistent snapshot; only a flush writes one";
        }
        return null;
    }
}
