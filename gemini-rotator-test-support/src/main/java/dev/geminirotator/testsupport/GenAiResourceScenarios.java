package dev.geminirotator.testsupport;

import com.google.genai.Client;
import com.google.genai.JsonSerializable;
import com.google.genai.types.BatchJob;
import com.google.genai.types.BatchJobSource;
import com.google.genai.types.CachedContent;
import com.google.genai.types.ClientOptions;
import com.google.genai.types.Content;
import com.google.genai.types.CreateBatchJobConfig;
import com.google.genai.types.CreateCachedContentConfig;
import com.google.genai.types.CreateFileSearchStoreConfig;
import com.google.genai.types.File;
import com.google.genai.types.FileSearchStore;
import com.google.genai.types.GenerateContentConfig;
import com.google.genai.types.GenerateContentResponse;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.HttpRetryOptions;
import com.google.genai.types.InlinedRequest;
import com.google.genai.types.Part;
import com.google.genai.types.UploadFileConfig;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import okhttp3.Interceptor;
import okhttp3.OkHttpClient;

/**
 * The issue 16 resource scenarios, run with the official GenAI Java SDK (2.0.0) against a
 * {@link FakeGemini}, through whichever transport the client was built on:
 * <ul>
 *   <li>files: upload → get → generate with the file → delete;
 *   <li>caches: create → generate with {@code cachedContent} → get → delete;
 *   <li>batches: create (inline requests) → get → delete;
 *   <li>file search stores: create → get → delete.
 * </ul>
 * Every step's outcome is kept in a {@link Report}, with the exception it met, and everything the
 * SDK got back (its results, its exceptions and, through {@link SdkTraffic}, every answer's
 * headers and body) is scanned for the fake's pool keys. A step passes when the SDK call returns
 * what was asked for and the fake's state agrees (a created resource has an owner, a deleted one
 * no longer does). The clients are set up as README's "GenAI SDK" section describes, SDK retries
 * off. Stateless; a run is not thread-safe.
 */
public final class GenAiResourceScenarios {

  /** The model every scenario uses. */
  public static final String MODEL = "gemini-2.5-flash";

  /** The four resource scenarios. */
  public enum Scenario { FILES, CACHES, BATCHES, FILE_SEARCH_STORES }

  /** What became of one step. */
  public enum Result { PASSED, FAILED, SKIPPED }

  /** One step of one round: {@code detail} says why it failed or was skipped (no secret). */
  public record Step(Scenario scenario, int round, String name, Result result, String detail) {
    @Override
    public String toString() {
      return scenario + " round " + round + " " + name + ": " + result
          + (detail.isEmpty() ? "" : " (" + detail + ")");
    }
  }

  /** The steps of a run and the secret findings in what the SDK got back. */
  public record Report(List<Step> steps, List<String> leaks) {
    public Report {
      steps = List.copyOf(steps);
      leaks = List.copyOf(leaks);
    }

    /** The steps that did not pass (failed or skipped). */
    public List<Step> failures() {
      return steps.stream().filter(s -> s.result() != Result.PASSED).toList();
    }

    /** One line per step that did not pass, then a count: what a failing test prints. */
    public String summary() {
      StringBuilder sb = new StringBuilder();
      for (Step s : failures()) sb.append(s).append('\n');
      return sb.append(steps.size() - failures().size()).append(" of ").append(steps.size())
          .append(" steps passed; ").append(leaks.size()).append(" secret findings").toString();
    }
  }

  private GenAiResourceScenarios() {
  }

  /**
   * An SDK client running on an {@code OkHttpClient} that carries {@code keyInterceptor} (the
   * pool's interceptor), aimed at {@code baseUrl}, recording into {@code traffic}.
   */
  public static Client throughInterceptor(Interceptor keyInterceptor, String baseUrl,
      SdkTraffic traffic) {
    OkHttpClient okHttp = new OkHttpClient.Builder()
        .addInterceptor(traffic) // outermost: sees exactly what the SDK gets back
        .addInterceptor(keyInterceptor)
        .build();
    return Client.builder()
        .apiKey("unused") // the SDK wants one; the interceptor swaps in a pool key
        .clientOptions(ClientOptions.builder().customHttpClient(okHttp).build())
        .httpOptions(HttpOptions.builder()
            .baseUrl(baseUrl)
            // the SDK's own retry would repeat a 429 on the same key: let the rotator retry
            .retryOptions(HttpRetryOptions.builder().attempts(1).build())
            .build())
        .build();
  }

  /**
   * An SDK client aimed at a proxy with an access token where the SDK sends its key, recording
   * into {@code traffic} (the only interceptor of its client).
   */
  public static Client throughProxy(String proxyUrl, String accessToken, SdkTraffic traffic) {
    OkHttpClient okHttp = new OkHttpClient.Builder().addInterceptor(traffic).build();
    return Client.builder()
        .apiKey(accessToken) // a proxy access token, sent where the SDK sends its key
        .clientOptions(ClientOptions.builder().customHttpClient(okHttp).build())
        .httpOptions(HttpOptions.builder()
            .baseUrl(proxyUrl)
            // the proxy has already retried on every key that could serve
            .retryOptions(HttpRetryOptions.builder().attempts(1).build())
            .build())
        .build();
  }

  /** Runs {@code rounds} rounds of every scenario and reports each step. */
  public static Report run(Client client, FakeGemini fake, SdkTraffic traffic, int rounds) {
    Run run = new Run(client, fake);
    for (int round = 1; round <= rounds; round++) {
      run.files(round);
      run.caches(round);
      run.batches(round);
      run.stores(round);
    }
    run.seen.append('\n').append(traffic.text());
    SecretScanner scanner = SecretScanner.of(fake.secrets());
    return new Report(run.steps, scanner.findings(run.seen));
  }

  /** One run's state: the steps so far and the text the SDK gave back. */
  private static final class Run {
    final Client client;
    final FakeGemini fake;
    final List<Step> steps = new ArrayList<>();
    final StringBuilder seen = new StringBuilder();
    final SecretScanner scanner;
    Scenario scenario;
    int round;

    Run(Client client, FakeGemini fake) {
      this.client = client;
      this.fake = fake;
      this.scanner = SecretScanner.of(fake.secrets());
    }

    void files(int r) {
      begin(Scenario.FILES, r);
      File file = step("upload", () -> client.files.upload(
          ("round " + r + " notes").getBytes(StandardCharsets.UTF_8),
          UploadFileConfig.builder().mimeType("text/plain").displayName("notes-" + r + ".txt")
              .build()), f -> f.name().isPresent() && f.uri().isPresent()
              && fake.owner(f.name().get()).isPresent());
      if (file == null) {
        skip("get", "generate with the file", "delete");
        return;
      }
      String name = file.name().get();
      step("get", () -> client.files.get(name, null), f -> f.name().equals(Optional.of(name)));
      step("generate with the file", () -> client.models.generateContent(MODEL,
          Content.fromParts(Part.fromUri(file.uri().get(), "text/plain"),
              Part.fromText("Summarize the notes.")), null), GenAiResourceScenarios::answered);
      deleteStep(name, () -> client.files.delete(name, null));
    }

    void caches(int r) {
      begin(Scenario.CACHES, r);
      CachedContent cache = step("create", () -> client.caches.create(MODEL,
          CreateCachedContentConfig.builder().displayName("doc-" + r)
              .contents(Content.fromParts(Part.fromText("A long document, round " + r + ".")))
              .ttl(Duration.ofMinutes(5)).build()),
          c -> c.name().isPresent() && fake.owner(c.name().get()).isPresent());
      if (cache == null) {
        skip("generate with cachedContent", "get", "delete");
        return;
      }
      String name = cache.name().get();
      step("generate with cachedContent", () -> client.models.generateContent(MODEL,
          "What does the document say?",
          GenerateContentConfig.builder().cachedContent(name).build()),
          GenAiResourceScenarios::answered);
      step("get", () -> client.caches.get(name, null), c -> c.name().equals(Optional.of(name)));
      deleteStep(name, () -> client.caches.delete(name, null));
    }

    void batches(int r) {
      begin(Scenario.BATCHES, r);
      BatchJob batch = step("create", () -> client.batches.create(MODEL,
          BatchJobSource.builder().inlinedRequests(InlinedRequest.builder()
              .contents(Content.fromParts(Part.fromText("Say hi, round " + r + "."))).build())
              .build(),
          CreateBatchJobConfig.builder().displayName("job-" + r).build()),
          b -> b.name().isPresent() && fake.owner(b.name().get()).isPresent());
      if (batch == null) {
        skip("get", "delete");
        return;
      }
      String name = batch.name().get();
      step("get", () -> client.batches.get(name, null), b -> b.name().equals(Optional.of(name)));
      deleteStep(name, () -> client.batches.delete(name, null));
    }

    void stores(int r) {
      begin(Scenario.FILE_SEARCH_STORES, r);
      FileSearchStore store = step("create", () -> client.fileSearchStores.create(
          CreateFileSearchStoreConfig.builder().displayName("store " + r).build()),
          s -> s.name().isPresent() && fake.owner(s.name().get()).isPresent());
      if (store == null) {
        skip("get", "delete");
        return;
      }
      String name = store.name().get();
      step("get", () -> client.fileSearchStores.get(name, null),
          s -> s.name().equals(Optional.of(name)));
      // FileSearchStores.delete (SDK 2.0.0) never reads the answer's status: a refused delete
      // returns normally, so only the fake's state tells
      deleteStep(name, () -> {
        client.fileSearchStores.delete(name, null);
        return "returned";
      });
    }

    /** A delete passes when the SDK returned and the fake no longer holds {@code name}. */
    <T> void deleteStep(String name, Callable<T> call) {
      step("delete", call, x -> fake.owner(name).isEmpty(),
          "the SDK returned, but the fake still holds " + name);
    }

    void begin(Scenario s, int r) {
      scenario = s;
      round = r;
    }

    void skip(String... names) {
      for (String n : names) {
        steps.add(new Step(scenario, round, n, Result.SKIPPED, "the resource was not created"));
      }
    }

    <T> T step(String name, Callable<T> call, Predicate<T> ok) {
      return step(name, call, ok, null);
    }

    /**
     * Runs one step; returns its result when it passed, else {@code null}. {@code whenNot} says
     * what went wrong when the call returned but {@code ok} refused its result (default: the
     * result itself).
     */
    <T> T step(String name, Callable<T> call, Predicate<T> ok, String whenNot) {
      T value;
      try {
        value = call.call();
      } catch (Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) seen.append(c).append('\n');
        steps.add(new Step(scenario, round, name, Result.FAILED,
            scanner.redact(t.getClass().getSimpleName() + ": " + t.getMessage())));
        return null;
      }
      seen.append(value instanceof JsonSerializable j ? j.toJson() : String.valueOf(value))
          .append('\n');
      boolean passed;
      try {
        passed = ok.test(value);
      } catch (RuntimeException e) {
        passed = false;
      }
      if (!passed) {
        steps.add(new Step(scenario, round, name, Result.FAILED, scanner.redact(
            whenNot != null ? whenNot : "unexpected result: " + shortened(value))));
        return null;
      }
      steps.add(new Step(scenario, round, name, Result.PASSED, ""));
      return value;
    }
  }

  private static boolean answered(GenerateContentResponse response) {
    String text = response.text();
    return text != null && !text.isEmpty();
  }

  private static String shortened(Object value) {
    String s = value instanceof JsonSerializable j ? j.toJson() : String.valueOf(value);
    return s.length() > 300 ? s.substring(0, 300) + "…" : s;
  }
}
