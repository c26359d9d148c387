package io.qlora4j.actors.grpc;

import io.qlora4j.actors.data.DataStats;
import io.qlora4j.actors.data.ExamplePreparation;
import io.qlora4j.actors.data.MalformedPolicy;
import io.qlora4j.actors.data.ReadOptions;
import io.qlora4j.actors.data.Shard;
import io.qlora4j.model.data.DataException;
import io.qlora4j.model.data.DataFormat;
import io.qlora4j.model.data.TokenizedExample;
import io.qlora4j.model.tokenizer.Tokenizer;
import io.qlora4j.testing.SharedData;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.stream.LongStream;

import static io.qlora4j.actors.grpc.TestData.GUANACO;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The dataset service over a real loopback socket: what it streams, how it shards, and how it refuses bad input. */
class DatasetServiceTest {
    private static final int MAX_LENGTH = 384;

    private static ActorTestKit testKit;
    private static Tokenizer tok512;

    @BeforeAll
    static void start() {
        testKit = ActorTestKit.create();
    }

    @AfterAll
    static void stop() {
        testKit.shutdownTestKit();
    }

    private static Tokenizer tok512() {
        if (tok512 == null) tok512 = TestData.tok512();
        return tok512;
    }

    private static List<TokenizedExample> stream(DatasetServer server, String dataset, GrpcClientSettings settings, ReadOptions options,
                                                 MalformedPolicy policy, DataStats stats) throws Exception {
        DatasetUrl url = new DatasetUrl(server.address(), dataset);
        var source = new GrpcExampleSource(url, settings, options, new ExamplePreparation(tok512(), MAX_LENGTH, policy));
        return TestData.collect(source.examples(0, stats), testKit.system());
    }

    private static List<TokenizedExample> stream(DatasetServer server, String dataset, GrpcClientSettings settings) throws Exception {
        return stream(server, dataset, settings, ReadOptions.DEFAULT, MalformedPolicy.FAIL, new DataStats());
    }

    /** The failure of a stream that is expected to fail, unwrapped. */
    private static Throwable failure(DatasetServer server, String dataset, GrpcClientSettings settings, MalformedPolicy policy) {
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> stream(server, dataset, settings, ReadOptions.DEFAULT, policy, new DataStats()));
        return e.getCause();
    }

    private static GrpcClientSettings noRetries() {
        return GrpcClientSettings.defaults().withReconnect(0, java.time.Duration.ZERO, java.time.Duration.ZERO);
    }

    @Test
    void serverTokenizedExamplesEqualLocalOnesOffsetByOffset() throws Exception {
        Path dir = TestData.guanacoDir();
        List<TokenizedExample> local = TestData.localExamples(dir.resolve(GUANACO), DataFormat.GUANACO, tok512(), MAX_LENGTH);
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(dir, 0).withTokenizer(new ServerTokenizer(tok512(), "tok512")))) {
            DataStats stats = new DataStats();
            List<TokenizedExample> remote = stream(server, GUANACO, GrpcClientSettings.defaults(), ReadOptions.DEFAULT, MalformedPolicy.FAIL, stats);
            TestData.assertSameExamples(local, remote);
            assertEquals(1000, stats.snapshot().examples());
            assertTrue(stats.snapshot().truncated() > 0, "guanaco conversations are longer than " + MAX_LENGTH + " tokens: " + stats.snapshot());
            assertEquals(1000, server.metrics().recordsSent());
        }
    }

    @Test
    void rawTextTokenizedByTheClientEqualsLocalExamples() throws Exception {
        Path dir = TestData.guanacoDir();
        List<TokenizedExample> local = TestData.localExamples(dir.resolve(GUANACO), DataFormat.GUANACO, tok512(), MAX_LENGTH);
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(dir, 0))) {
            TestData.assertSameExamples(local, stream(server, GUANACO, GrpcClientSettings.defaults()));
        }
    }

    @Test
    void listDatasetsDescribesTheFolder() {
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(TestData.guanacoDir(), 0).withTokenizer(new ServerTokenizer(tok512(), "tok512.bin (vocab 512)")))) {
            List<RemoteDataset> datasets = DatasetClient.listDatasets(server.address(), GrpcClientSettings.defaults());
            assertEquals(List.of(GUANACO, "guanaco-llama2-1k.train.llama2fmt.jsonl"), datasets.stream().map(d -> d.description().name()).toList());
            DatasetDescription guanaco = datasets.getFirst().description();
            assertEquals(Optional.of(DataFormat.GUANACO), guanaco.format());
            assertEquals(1000, guanaco.records());
            assertTrue(guanaco.sizeBytes() > 100_000);
            assertEquals(Optional.of("tok512.bin (vocab 512)"), datasets.getFirst().tokenizerId());
        }
    }

    @Test
    void threeShardsTogetherReceiveEveryOffsetExactlyOnce() throws Exception {
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(TestData.guanacoDir(), 0).withTokenizer(new ServerTokenizer(tok512(), "tok512")))) {
            List<Long> all = new ArrayList<>();
            for (int shard = 0; shard < 3; shard++) {
                List<TokenizedExample> part = stream(server, GUANACO, GrpcClientSettings.defaults(),
                        ReadOptions.DEFAULT.withShard(new Shard(shard, 3)), MalformedPolicy.FAIL, new DataStats());
                for (TokenizedExample e : part) assertEquals(shard, e.offset() % 3, "offset " + e.offset() + " in shard " + shard);
                part.forEach(e -> all.add(e.offset()));
            }
            assertEquals(1000, all.size(), "no offset twice");
            assertEquals(LongStream.range(0, 1000).boxed().toList(), new ArrayList<>(new TreeSet<>(all)));
        }
    }

    @Test
    void unknownDatasetIsNotFoundAndListsTheAvailableOnes() {
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(TestData.guanacoDir(), 0))) {
            DataServiceException e = assertInstanceOf(DataServiceException.class, failure(server, "alpaca.jsonl", noRetries(), MalformedPolicy.FAIL));
            assertEquals(DataServiceException.Kind.NOT_FOUND, e.kind());
            assertTrue(e.getMessage().contains("NOT_FOUND") && e.getMessage().contains("no dataset 'alpaca.jsonl'")
                    && e.getMessage().contains("available: " + GUANACO), e.getMessage());
            assertTrue(e.getMessage().contains(server.address() + "/alpaca.jsonl"), "names the URL: " + e.getMessage());
        }
    }

    @Test
    void namesThatEscapeTheFolderAreRefused(@TempDir Path tmp) throws Exception {
        Path served = Files.createDirectories(tmp.resolve("served"));
        Files.writeString(served.resolve("ok.jsonl"), "{\"text\": \"a story\"}\n");
        Files.writeString(tmp.resolve("secret.jsonl"), "{\"text\": \"not yours\"}\n");
        Files.createSymbolicLink(served.resolve("link.jsonl"), tmp.resolve("secret.jsonl"));
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(served, 0))) {
            for (String name : List.of("../secret.jsonl", "sub/../../secret.jsonl", tmp.resolve("secret.jsonl").toString(), "link.jsonl")) {
                DataServiceException e = assertInstanceOf(DataServiceException.class, failure(server, name, noRetries(), MalformedPolicy.FAIL), name);
                assertEquals(DataServiceException.Kind.INVALID_REQUEST, e.kind(), name);
                assertTrue(e.getMessage().contains("INVALID_ARGUMENT") && e.getMessage().contains("refused")
                        && e.getMessage().contains("available: ok.jsonl"), e.getMessage());
            }
            assertEquals(List.of("ok.jsonl"), server.catalog().names(), "the outside link is not listed");
            assertEquals(1, stream(server, "ok", GrpcClientSettings.defaults()).size(), "a name without extension finds ok.jsonl");
        }
    }

    @Test
    void malformedLinesAreSkippedAndCountedOrFatalWithFileAndLine(@TempDir Path tmp) throws Exception {
        Files.writeString(tmp.resolve("bad.jsonl"), """
                {"text": "### Human: hi### Assistant: hello"}
                {"text": "### Human: broken### Assistant:
                
                {"text": "### Human: again### Assistant: yes"}
                {"text": "no markers at all"}
                """);
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(tmp, 0).withTokenizer(new ServerTokenizer(tok512(), "tok512")))) {
            DataStats stats = new DataStats();
            List<TokenizedExample> kept = stream(server, "bad.jsonl", GrpcClientSettings.defaults(),
                    ReadOptions.DEFAULT.withFormat(DataFormat.GUANACO), MalformedPolicy.SKIP, stats);
            assertEquals(List.of(0L, 3L), kept.stream().map(TokenizedExample::offset).toList(), "offsets stay line indexes");
            assertEquals(2, stats.snapshot().malformedSkipped(), "the broken JSON line and the record without turns");

            DataException e = assertInstanceOf(DataException.class, failure(server, "bad.jsonl", GrpcClientSettings.defaults(), MalformedPolicy.FAIL));
            assertTrue(e.getMessage().startsWith("bad.jsonl:2: malformed JSON"), e.getMessage());
            assertTrue(e.getMessage().contains("record 1 of " + server.address() + "/bad.jsonl"), e.getMessage());
            assertTrue(!e.getMessage().contains(tmp.toString()), "the server's paths stay private: " + e.getMessage());
        }
    }

    @Test
    void anEmptyDatasetIsUnusable(@TempDir Path tmp) throws Exception {
        Files.writeString(tmp.resolve("empty.jsonl"), "\n\n");
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(tmp, 0))) {
            DataServiceException e = assertInstanceOf(DataServiceException.class, failure(server, "empty.jsonl", noRetries(), MalformedPolicy.FAIL));
            assertEquals(DataServiceException.Kind.UNUSABLE_DATASET, e.kind());
            assertTrue(e.getMessage().contains("FAILED_PRECONDITION: empty.jsonl: the dataset is empty (no records)"), e.getMessage());
            RemoteDataset listed = DatasetClient.listDatasets(server.address(), GrpcClientSettings.defaults()).getFirst();
            assertEquals(Optional.of("empty.jsonl: the dataset is empty (no records)"), listed.description().problem());
        }
    }

    @Test
    void tokenIdsOutsideTheTrainersVocabularyAreAClearError() {
        Path llama = SharedData.require("tokenizers/llama2-32k/tokenizer.bin");
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(TestData.guanacoDir(), 0).withTokenizer(ServerTokenizer.load(llama)))) {
            DataException e = assertInstanceOf(DataException.class, failure(server, GUANACO, GrpcClientSettings.defaults(), MalformedPolicy.SKIP));
            assertTrue(e.getMessage().startsWith(server.address() + "/" + GUANACO + ": example 0 has token id "), e.getMessage());
            assertTrue(e.getMessage().contains("outside the model's vocabulary [0, 512)"), e.getMessage());
        }
    }

    @Test
    void aMissingOrWrongBearerTokenIsUnauthenticated() throws Exception {
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(TestData.guanacoDir(), 0).withBearerToken("s3cret"))) {
            DataServiceException wrong = assertInstanceOf(DataServiceException.class,
                    failure(server, GUANACO, noRetries().withBearerToken("guess"), MalformedPolicy.FAIL));
            assertEquals(DataServiceException.Kind.UNAUTHENTICATED, wrong.kind());
            assertTrue(wrong.getMessage().contains("UNAUTHENTICATED: wrong bearer token"), wrong.getMessage());
            DataServiceException missing = assertThrows(DataServiceException.class,
                    () -> DatasetClient.listDatasets(server.address(), GrpcClientSettings.defaults()));
            assertTrue(missing.getMessage().contains("requires a bearer token"), missing.getMessage());
            assertEquals(1000, stream(server, GUANACO, GrpcClientSettings.defaults().withBearerToken("s3cret")).size());
        }
    }

    @Test
    void tlsWithABearerTokenServesAndAPlaintextClientIsRefused(@TempDir Path tmp) throws Exception {
        TlsFiles tls = selfSignedCertificate(tmp);
        try (DatasetServer server = DatasetServer.start(DatasetServerConfig.of(TestData.guanacoDir(), 0).withTls(tls).withBearerToken("s3cret"))) {
            assertEquals("grpcs://127.0.0.1:" + server.port(), server.address().toString());
            GrpcClientSettings settings = GrpcClientSettings.defaults().withTrustedCertificate(tls.certificateChain()).withBearerToken("s3cret");
            assertEquals(1000, stream(server, GUANACO, settings).size());
            ServerAddress plaintext = new ServerAddress("127.0.0.1", server.port(), false);
            DataServiceException e = assertThrows(DataServiceException.class, () -> DatasetClient.listDatasets(plaintext, settings));
            assertTrue(e.getMessage().startsWith("listing the datasets of grpc://127.0.0.1:" + server.port() + ": UNAVAILABLE"), e.getMessage());
            assertTrue(e.getMessage().endsWith("does the URL's scheme match its TLS setting (grpcs:// for --tls-cert)?"), e.getMessage());
        }
    }

    /** A throwaway EC certificate for 127.0.0.1 made with the JDK's keytool, written as PEM files. */
    private static TlsFiles selfSignedCertificate(Path dir) throws Exception {
        Path store = dir.resolve("server.p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "server", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=localhost",
                "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-keystore", store.toString(),
                "-storetype", "PKCS12", "-storepass", "changeit", "-keypass", "changeit").redirectErrorStream(true).start();
        String output = new String(keytool.getInputStream().readAllBytes());
        assertEquals(0, keytool.waitFor(), output);
        java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(store)) {
            ks.load(in, "changeit".toCharArray());
        }
        java.util.Base64.Encoder pem = java.util.Base64.getMimeEncoder(64, "\n".getBytes());
        Path cert = Files.writeString(dir.resolve("server.crt"), "-----BEGIN CERTIFICATE-----\n"
                + pem.encodeToString(ks.getCertificate("server").getEncoded()) + "\n-----END CERTIFICATE-----\n");
        Path key = Files.writeString(dir.resolve("server.key"), "-----BEGIN PRIVATE KEY-----\n"
                + pem.encodeToString(ks.getKey("server", "changeit".toCharArray()).getEncoded()) + "\n-----END PRIVATE KEY-----\n");
        return new TlsFiles(cert, key);
    }
}
