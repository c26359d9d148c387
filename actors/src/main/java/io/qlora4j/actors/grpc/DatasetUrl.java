package io.qlora4j.actors.grpc;

import java.net.URI;
import java.net.URISyntaxException;

/**
 * A dataset on a data server, as a trainer's {@code --data} names it: {@code grpc://HOST:PORT/NAME} (plaintext) or
 * {@code grpcs://HOST:PORT/NAME} (TLS). NAME is the dataset's path relative to the served folder, e.g.
 * {@code guanaco-1k.train.guanacofmt.jsonl}; the port defaults to {@value #DEFAULT_PORT}, serve-data's default.
 * Credentials never go into the URL (it ends up in logs and metrics): the bearer token is a client setting.
 */
public record DatasetUrl(ServerAddress server, String dataset) {

    public static final int DEFAULT_PORT = 7070;
    private static final String EXPECTED = "expected grpc://HOST:PORT/DATASET (grpcs:// for TLS), e.g. grpc://127.0.0.1:7070/guanaco-1k.jsonl";

    public DatasetUrl {
        if (dataset == null || dataset.isEmpty()) throw new IllegalArgumentException("a dataset URL needs a dataset name");
    }

    /** Whether {@code data} is a data-server URL rather than a file path. */
    public static boolean isUrl(String data) {
        return data.startsWith("grpc://") || data.startsWith("grpcs://");
    }

    /**
     * Parses a dataset URL.
     *
     * @throws DataServiceException ({@link DataServiceException.Kind#INVALID_REQUEST}) naming the URL, what is wrong
     *                              and the expected form
     */
    public static DatasetUrl parse(String url) {
        if (!isUrl(url)) {
            int colon = url.indexOf("://");
            throw bad(url, colon > 0 ? "unknown scheme '" + url.substring(0, colon) + "'" : "no grpc:// or grpcs:// in front");
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw bad(url, e.getReason() + " at index " + e.getIndex());
        }
        String scheme = uri.getScheme();
        if (uri.getRawUserInfo() != null) {
            throw bad(url, "credentials do not belong in the URL: pass the bearer token as a client setting");
        }
        if (uri.getHost() == null) {
            throw bad(url, uri.getRawAuthority() == null ? "no host" : "cannot read host and port from '" + uri.getRawAuthority() + "'");
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) throw bad(url, "a dataset URL has no query or fragment");
        String path = uri.getPath();
        if (path == null || path.length() <= 1) throw bad(url, "no dataset name after the host");
        int port = uri.getPort() == -1 ? DEFAULT_PORT : uri.getPort();
        if (port < 1 || port > 65535) throw bad(url, "port " + port + " is outside 1..65535");
        String host = uri.getHost().startsWith("[") ? uri.getHost().substring(1, uri.getHost().length() - 1) : uri.getHost();
        return new DatasetUrl(new ServerAddress(host, port, scheme.equals("grpcs")), path.substring(1));
    }

    private static DataServiceException bad(String url, String problem) {
        return new DataServiceException(DataServiceException.Kind.INVALID_REQUEST, "bad dataset URL '" + url + "': " + problem + "; " + EXPECTED);
    }

    @Override
    public String toString() {
        return server + "/" + dataset;
    }
}
