package dev.geminirotator.standalone;

import dev.geminirotator.config.ConfigException;
import dev.geminirotator.standalone.config.ConfigWatcher;
import dev.geminirotator.standalone.config.LoggingSetup;
import dev.geminirotator.standalone.config.StandaloneConfig;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code gemini-rotator-standalone} command line: starts the proxy, or validates or prints a
 * configuration. Exit codes: 0 success, 1 invalid configuration, 2 bad command line, 3 start-up
 * failure (the message names the cause, e.g. {@code 127.0.0.1:4806 is already in use}). On
 * SIGTERM the proxy drains in-flight requests, closes the rotator and exits with 0; SIGINT
 * (Ctrl-C) drains the same way (the JVM runs the same shutdown hook) and exits with 130.
 * Not thread-safe; one instance per invocation.
 */
@Command(name = "gemini-rotator-standalone", mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class, sortOptions = false,
    description = "A proxy in front of the Gemini API that spreads calls over a pool of keys.%n"
        + "Precedence: defaults < config file < environment (GEMINI_ROTATOR_<PATH>, "
        + "GEMINI_API_KEYS) < command line.")
public final class Main implements Callable<Integer> {

  /** Exit code for an invalid configuration. */
  public static final int EXIT_INVALID_CONFIG = 1;
  /** Exit code when the proxy cannot start (port in use, store unreachable). */
  public static final int EXIT_START_FAILED = 3;

  @Option(names = "--config", paramLabel = "FILE", description = "YAML configuration file")
  Path config;

  @Option(names = "--host", description = "address to listen on (default 127.0.0.1)")
  String host;

  @Option(names = "--port", description = "port to listen on (default 4806; 0 picks a free one)")
  Integer port;

  @Option(names = "--validate", description = "check the configuration, list every error, exit")
  boolean validate;

  @Option(names = "--print-config",
      description = "print the effective configuration with secrets masked, exit")
  boolean printConfig;

  private final Map<String, String> env;
  private PrintWriter out;
  private PrintWriter err;

  Main(Map<String, String> env) {
    this.env = env;
  }

  /** Starts the proxy (blocking until shutdown) or runs a one-shot option. */
  public static void main(String[] args) {
    quietLeakDetection();
    int code = run(args, System.getenv(), new PrintWriter(System.out, true),
        new PrintWriter(System.err, true), true);
    if (code != Integer.MIN_VALUE) System.exit(code);
  }

  /**
   * Turns Netty's buffer leak detection off unless {@code -Dio.netty.leakDetection.level} asks for
   * it. By default Netty tracks one buffer in 128 and records a stack trace for each: measured at
   * 1-2% of the proxy's CPU under load. The tests, which do not start through here, keep Netty's
   * default.
   */
  static void quietLeakDetection() {
    if (System.getProperty("io.netty.leakDetection.level") == null
        && System.getProperty("io.netty.leakDetectionLevel") == null) {
      io.netty.util.ResourceLeakDetector.setLevel(io.netty.util.ResourceLeakDetector.Level.DISABLED);
    }
  }

  /**
   * Runs the command.
   *
   * @param serve whether to keep a started proxy running until the JVM shuts down
   * @return the exit code, or {@link Integer#MIN_VALUE} when a proxy was started and keeps running
   */
  static int run(String[] args, Map<String, String> env, PrintWriter out, PrintWriter err,
      boolean serve) {
    Main main = new Main(env);
    main.out = out;
    main.err = err;
    CommandLine cli = new CommandLine(main);
    cli.setOut(out);
    cli.setErr(err);
    return cli.execute(args);
  }

  @Override
  public Integer call() {
    if (config != null && !Files.isRegularFile(config)) {
      err.println("config file not found: " + config);
      return EXIT_INVALID_CONFIG;
    }
    StandaloneConfig.Overrides overrides = new StandaloneConfig.Overrides(host, port);
    StandaloneConfig loaded;
    try {
      loaded = StandaloneConfig.load(config, env, overrides);
    } catch (ConfigException e) {
      err.println("invalid configuration" + (e.source() != null ? " in " + e.source() : "")
          + ": " + e.errors().size() + " error" + (e.errors().size() == 1 ? "" : "s"));
      for (String error : e.errors()) err.println("  - " + error);
      return EXIT_INVALID_CONFIG;
    }
    if (validate) {
      for (String warning : loaded.warnings()) out.println("warning: " + warning);
      out.println("configuration OK" + (config != null ? ": " + config : "") + " ("
          + loaded.rotator().keys().size() + " keys, listening on " + loaded.server().host() + ":"
          + loaded.server().port() + ")");
      return 0;
    }
    if (printConfig) {
      out.print(loaded.toMaskedYaml());
      out.flush();
      return 0;
    }
    LoggingSetup.apply(loaded);
    Logger log = LoggerFactory.getLogger(Main.class);
    for (String warning : loaded.warnings()) log.warn(warning);
    ProxyServer server;
    try {
      server = ProxyServer.start(loaded, env);
    } catch (Exception e) {
      // Expected failures (a port in use, a store that cannot be reached) are one line naming
      // what failed, on standard error and in the log; no stack trace.
      String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      log.error("cannot start the proxy: {}", why);
      err.println("cannot start the proxy: " + why);
      return EXIT_START_FAILED;
    }
    ConfigWatcher watcher = config == null ? null
        : new ConfigWatcher(config, server, env, overrides, Duration.ofSeconds(1));
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      if (watcher != null) watcher.close();
      server.close();
    }, "gemini-rotator-shutdown"));
    exitZeroOnSigterm();
    return Integer.MIN_VALUE;
  }

  /**
   * SIGTERM is an orderly stop for a proxy, so it exits with 0 (after the shutdown hook drained
   * requests) rather than the JVM's default 143. Uses {@code sun.misc.Signal} when present.
   */
  private static void exitZeroOnSigterm() {
    try {
      Class<?> signal = Class.forName("sun.misc.Signal");
      Class<?> handler = Class.forName("sun.misc.SignalHandler");
      Object term = signal.getConstructor(String.class).newInstance("TERM");
      Object exitZero = java.lang.reflect.Proxy.newProxyInstance(Main.class.getClassLoader(),
          new Class<?>[] {handler}, (proxy, method, args) -> {
            if (method.getName().equals("handle")) {
              new Thread(() -> System.exit(0), "gemini-rotator-sigterm").start();
            }
            return null;
          });
      signal.getMethod("handle", signal, handler).invoke(null, term, exitZero);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      // Not available: SIGTERM still runs the shutdown hook; the exit code is then 143.
    }
  }

  /** Reports the project version for {@code --version}. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"gemini-rotator-standalone " + ProxyServer.version(),
          "Java " + Runtime.version()};
    }
  }
}
