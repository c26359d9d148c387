package io.qlora4j.model.tokenizer.hf;

import java.util.Arrays;

/** A growable int array (token ids and offsets are collected without boxing). */
final class IntList {
    private int[] data; // (capacity) the first size entries are the list
    private int size;

    IntList(int capacity) {
        data = new int[Math.max(capacity, 4)];
    }

    void add(int v) {
        if (size == data.length) {
            data = Arrays.copyOf(data, size * 2);
        }
        data[size++] = v;
    }

    void addAll(int[] src, int from, int to) {
        int n = to - from;
        if (size + n > data.length) {
            data = Arrays.copyOf(data, Math.max(size + n, size * 2));
        }
        System.arraycopy(src, from, data, size, n);
        size += n;
    }

    int size() {
        return size;
    }

    int get(int i) {
        return data[i];
    }

    int[] toArray() {
        return Arrays.copyOf(data, size);
    }
}
