package io.qlora4j.actors.grpc;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Dataset URLs as users type them, and the errors for the ones that cannot work. */
class DatasetUrlTest {

    @Test
    void parsesHostPortAndDataset() {
        assertEquals(new DatasetUrl(new ServerAddress("127.0.0.1", 7071, false), "guanaco-1k.jsonl"), DatasetUrl.parse("grpc://127.0.0.1:7071/guanaco-1k.jsonl"));
        assertEquals(new DatasetUrl(new ServerAddress("data.example", 7070, true), "sub/set.json"), DatasetUrl.parse("grpcs://data.example/sub/set.json"));
        DatasetUrl v6 = DatasetUrl.parse("grpc://[::1]:9000/x.txt");
        assertEquals("::1", v6.server().host());
        assertEquals("grpc://[::1]:9000/x.txt", v6.toString());
        assertTrue(DatasetUrl.isUrl("grpc://h/x") && DatasetUrl.isUrl("grpcs://h/x"));
        assertFalse(DatasetUrl.isUrl("data/train.jsonl"));
    }

    @Test
    void malformedUrlsNameTheProblemAndTheExpectedForm() {
        Map<String, String> cases = Map.of(
                "http://127.0.0.1:7070/x.jsonl", "unknown scheme 'http'",
                "127.0.0.1:7070/x.jsonl", "no grpc:// or grpcs:// in front",
                "grpc://127.0.0.1:7070", "no dataset name after the host",
                "grpc://127.0.0.1:7070/", "no dataset name after the host",
                "grpc://127.0.0.1:port/x.jsonl", "cannot read host and port from '127.0.0.1:port'",
                "grpc://127.0.0.1:70000/x.jsonl", "port 70000 is outside 1..65535",
                "grpc://user:pw@127.0.0.1:7070/x.jsonl", "credentials do not belong in the URL",
                "grpc://127.0.0.1:7070/x.jsonl?shard=1", "a dataset URL has no query or fragment",
                "grpc://127.0.0.1:7070/my data.jsonl", "Illegal character in path");
        cases.forEach((url, problem) -> {
            DataServiceException e = assertThrows(DataServiceException.class, () -> DatasetUrl.parse(url), url);
            assertEquals(DataServiceException.Kind.INVALID_REQUEST, e.kind());
            assertTrue(e.getMessage().startsWith("bad dataset URL '" + url + "': " + problem), e.getMessage());
            assertTrue(e.getMessage().endsWith("expected grpc://HOST:PORT/DATASET (grpcs:// for TLS), e.g. grpc://127.0.0.1:7070/guanaco-1k.jsonl"), e.getMessage());
        });
    }
}
