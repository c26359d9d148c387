package io.qlora4j.actors.grpc;

/**
 * Where a data server listens.
 *
 * @param tls whether to connect with TLS ({@code grpcs://})
 */
public record ServerAddress(String host, int port, boolean tls) {

    public ServerAddress {
        if (host == null || host.isBlank()) throw new IllegalArgumentException("a server address needs a host");
        if (port < 1 || port > 65535) throw new IllegalArgumentException("port " + port + " is outside 1..65535");
    }

    /** Whether the host is this machine (where a token may travel without TLS). */
    public boolean isLoopback() {
        return host.equals("localhost") || host.startsWith("127.") || host.equals("::1") || host.equals("[::1]");
    }

    @Override
    public String toString() {
        return (tls ? "grpcs://" : "grpc://") + (host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host) + ":" + port;
    }
}
