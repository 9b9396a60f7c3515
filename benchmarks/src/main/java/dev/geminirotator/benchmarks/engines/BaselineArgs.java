package dev.geminirotator.benchmarks.engines;

import dev.geminirotator.benchmarks.load.Args;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Arrays;

/**
 * The options both engine baselines take: {@code --port} (0, the default: a free port),
 * {@code --upstream http://host:port} (required) and {@code --key} (the key each request gets in
 * {@code x-goog-api-key}), plus each baseline's own. Immutable.
 */
final class BaselineArgs {

  /** The key injected when {@code --key} is not given: the first key {@code lib.sh} writes. */
  static final String DEFAULT_KEY = "AIzaSyBench000001xxxxxxxxxxxxxxxxxxxxxxxxx";

  final int port;
  final String upstreamHost;
  final int upstreamPort;
  final String key;
  private final Args args;

  private BaselineArgs(String[] argv, String... extra) {
    String[] known = Arrays.copyOf(new String[] {"port", "upstream", "key"}, 3 + extra.length);
    System.arraycopy(extra, 0, known, 3, extra.length);
    this.args = new Args(argv, known);
    long port = args.number("port", 0);
    if (port < 0 || port > 65_535) {
      throw new IllegalArgumentException("--port must be 0-65535 (0: a free port) but was " + port);
    }
    this.port = (int) port;
    String upstream = args.string("upstream", null);
    URI uri;
    try {
      uri = new URI(upstream);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("--upstream must be a URL like http://127.0.0.1:8080 but"
          + " was " + upstream, e);
    }
    if (!"http".equals(uri.getScheme()) || uri.getHost() == null || uri.getPort() < 0
        || !(uri.getRawPath() == null || uri.getRawPath().isEmpty() || uri.getRawPath().equals("/"))
        || uri.getRawQuery() != null) {
      throw new IllegalArgumentException("--upstream must be http://host:port (plain HTTP, an"
          + " explicit port, no path) but was " + upstream);
    }
    this.upstreamHost = uri.getHost();
    this.upstreamPort = uri.getPort();
    this.key = args.string("key", DEFAULT_KEY);
  }

  /** Parses {@code argv}; {@code extra} names the baseline's own options. */
  static BaselineArgs parse(String[] argv, String... extra) {
    return new BaselineArgs(argv, extra);
  }

  String string(String name, String dflt) {
    return args.string(name, dflt);
  }

  int number(String name, int dflt) {
    long v = args.number(name, dflt);
    if (v < 1 || v > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("--" + name + " must be >= 1 but was " + v);
    }
    return (int) v;
  }

  String upstreamBaseUrl() {
    return "http://" + upstreamHost + ":" + upstreamPort;
  }
}
