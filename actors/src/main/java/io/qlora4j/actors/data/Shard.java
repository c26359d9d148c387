package io.qlora4j.actors.data;

/**
 * One trainer's share of a dataset: the records with {@code offset % count == index}. Shards of one count are disjoint
 * and together cover the dataset.
 */
public record Shard(int index, int count) {

    /** The whole dataset. */
    public static final Shard ALL = new Shard(0, 1);

    public Shard {
        if (count < 1 || index < 0 || index >= count) {
            throw new IllegalArgumentException("shard " + index + " of " + count + ": need count >= 1 and 0 <= index < count");
        }
    }
}
