package dev.geminirotator.benchmarks;

import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.GeminiRequests;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Core's request parser ({@link GeminiRequests}), which both transports run once per request:
 * <ul>
 *   <li>{@code pathOnly}: {@code POST models/{m}:generateContent} with no buffered body, which
 *       names no resource: must not touch Jackson;
 *   <li>{@code fileGet}: {@code GET files/{id}}: a path naming a resource;
 *   <li>{@code generate2k}: a typical 2 KB generateContent body (system instruction, two turns of
 *       text, generation config, safety settings), read with Jackson's streaming parser;
 *   <li>{@code generate2kWithFile}: the same with a {@code fileData.fileUri};
 *   <li>{@code generate2kStream}: {@code generate2k} through {@code parseStream}, as the
 *       interceptor reads a body;
 *   <li>{@code openAiChat}: an OpenAI-compatible chat body (the model is in it).
 * </ul>
 * Read ns/op and, with {@code -prof gc}, {@code gc.alloc.rate.norm} (bytes/op).
 *
 * <p>Run: {@code flock /tmp/jmh.lock java -jar benchmarks/target/benchmarks.jar
 * RequestParseBenchmark -prof gc}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
@State(Scope.Benchmark)
public class RequestParseBenchmark {

  static final String GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";

  private byte[] generate2k;
  private byte[] generate2kWithFile;
  private byte[] openAiChat;

  static String generateBody(String extraPart) {
    String text = "Summarise the following meeting notes in three bullet points, keeping every "
        + "decision and owner, and flag anything that looks like a risk to the launch date. ";
    StringBuilder sb = new StringBuilder(2300);
    sb.append("{\"systemInstruction\":{\"parts\":[{\"text\":\"You are a concise assistant for ")
        .append("a product team. Answer in plain English.\"}]},\"contents\":[");
    sb.append("{\"role\":\"user\",\"parts\":[").append(extraPart).append("{\"text\":\"")
        .append(text.repeat(5)).append("\"}]},");
    sb.append("{\"role\":\"model\",\"parts\":[{\"text\":\"").append(text.repeat(3))
        .append("\"}]},");
    sb.append("{\"role\":\"user\",\"parts\":[{\"text\":\"And the risks?\"}]}],");
    sb.append("\"generationConfig\":{\"temperature\":0.2,\"topP\":0.95,\"topK\":40,")
        .append("\"maxOutputTokens\":1024,\"responseMimeType\":\"text/plain\",")
        .append("\"thinkingConfig\":{\"thinkingBudget\":0}},");
    sb.append("\"safetySettings\":[");
    String[] categories = {"HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT"};
    for (int i = 0; i < categories.length; i++) {
      if (i > 0) sb.append(',');
      sb.append("{\"category\":\"").append(categories[i])
          .append("\",\"threshold\":\"BLOCK_ONLY_HIGH\"}");
    }
    return sb.append("]}").toString();
  }

  @Setup
  public void setUp() {
    generate2k = generateBody("").getBytes(StandardCharsets.UTF_8);
    generate2kWithFile = generateBody("{\"fileData\":{\"mimeType\":\"application/pdf\","
        + "\"fileUri\":\"https://generativelanguage.googleapis.com/v1beta/files/abc123xyz\"}},")
        .getBytes(StandardCharsets.UTF_8);
    openAiChat = ("{\"model\":\"gemini-2.5-flash\",\"messages\":[{\"role\":\"system\","
        + "\"content\":\"You are a concise assistant.\"},{\"role\":\"user\",\"content\":\""
        + "Summarise the launch plan in three bullet points.\"}],\"temperature\":0.2,"
        + "\"max_tokens\":1024}").getBytes(StandardCharsets.UTF_8);
    if (generate2k.length < 1900 || generate2k.length > 2300) {
      throw new IllegalStateException("the typical body should be about 2 KB, not "
          + generate2k.length);
    }
    check(GeminiRequests.parse("POST", GENERATE, null, generate2kWithFile).resources().size(), 1);
    check(GeminiRequests.parse("GET", "/v1beta/files/abc123xyz", null, null).resources().size(),
        1);
  }

  private static void check(int actual, int expected) {
    if (actual != expected) {
      throw new IllegalStateException("expected " + expected + " but was " + actual);
    }
  }

  @Benchmark
  public GeminiRequest pathOnly() {
    return GeminiRequests.parse("POST", GENERATE, null, null);
  }

  @Benchmark
  public GeminiRequest fileGet() {
    return GeminiRequests.parse("GET", "/v1beta/files/abc123xyz", null, null);
  }

  @Benchmark
  public GeminiRequest generate2k() {
    return GeminiRequests.parse("POST", GENERATE, null, generate2k);
  }

  @Benchmark
  public GeminiRequest generate2kWithFile() {
    return GeminiRequests.parse("POST", GENERATE, null, generate2kWithFile);
  }

  @Benchmark
  public GeminiRequest generate2kStream() {
    return GeminiRequests.parseStream("POST", GENERATE, null,
        () -> new ByteArrayInputStream(generate2k));
  }

  @Benchmark
  public GeminiRequest openAiChat() {
    return GeminiRequests.parse("POST", "/v1beta/openai/chat/completions", null, openAiChat);
  }
}
