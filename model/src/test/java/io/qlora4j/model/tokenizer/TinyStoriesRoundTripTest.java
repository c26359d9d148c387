package io.qlora4j.model.tokenizer;

import io.qlora4j.testing.SharedData;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The 2 MiB TinyStories head (2,316 stories) through every real tokenizer, story by story and as one 2 MiB string:
 * decode(encode(story)) gives the story back, llama2.c and TinyLlama agree on every story, and one long input has no
 * quadratic blow-up. Times are printed (to the surefire output file), not asserted.
 */
class TinyStoriesRoundTripTest {
    @Test
    void encodeTinyStoriesHead() throws IOException {
        String text = Files.readString(SharedData.require("datasets/tinystories/tinystories_train_head_2MiB.txt"));
        List<String> stories = Arrays.stream(text.split("<\\|endoftext\\|>")).map(String::strip)
                .filter(s -> !s.isEmpty()).toList();
        Tokenizer tinyllama = Tokenizers.load(SharedData.require("tokenizers/tinyllama-1.1b-chat-v1.0"));
        Tokenizer llama2c = Tokenizers.load(SharedData.require("tokenizers/llama2-32k"));
        for (Tokenizer t : List.of(tinyllama, Tokenizers.load(SharedData.require("tokenizers/smollm2-135m-instruct")),
                llama2c, Tokenizers.load(SharedData.require("models/stories260K")))) {
            long start = System.nanoTime();
            long tokens = 0;
            for (String story : stories) {
                int[] ids = t.encode(story, true);
                tokens += ids.length;
                assertEquals(story, t.decode(ids, true), () -> t + " round trip of story " + story.substring(0, 40));
            }
            double storySeconds = (System.nanoTime() - start) / 1e9;
            start = System.nanoTime();
            int whole = t.encode(text, false).length;
            double wholeSeconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("%s: %d stories, %d tokens, encode+decode %.2f s; whole %d chars as one text: %d tokens"
                    + " in %.2f s%n", t, stories.size(), tokens, storySeconds, text.length(), whole, wholeSeconds);
        }
        for (String story : stories) {
            assertArrayEquals(tinyllama.encode(story, true), llama2c.encode(story, true), story);
        }
    }
}
