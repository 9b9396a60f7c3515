package dev.geminirotator.core.internal.affinity;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import dev.geminirotator.core.internal.exchange.GeminiRequests;
import dev.geminirotator.core.internal.exchange.ResourceKind;
import dev.geminirotator.core.internal.exchange.ResourceRef;
import java.io.IOException;
import java.net.URI;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Reads which project-bound resources a success answer created, and until when they live, from
 * the answer's headers and the start of its JSON body (Jackson's streaming parser, at most
 * {@link Affinity#MAX_ANSWER_BYTES}; a body cut short there yields what was read before the cut).
 * The answer shapes are those of {@code docs/gemini-resources.md} §0:
 * <ul>
 *   <li>resumable upload start: the {@code upload_id} of the URL in the {@code X-Goog-Upload-URL}
 *       header (§1, §10; the SDKs read only that header, case-insensitively);
 *   <li>upload finalize and one-shot upload: {@code {"file": {"name": "files/…",
 *       "expirationTime": …}}} (§1 step 3; {@code File.expiration_time} in {@code file.proto});
 *       an upload into a file search store finalizes with an Operation named
 *       {@code fileSearchStores/{s}/upload/operations/{op}}, which belongs to the store;
 *   <li>{@code cachedContents} create and PATCH: {@code name} and {@code expireTime} ("always
 *       provided on output", {@code cached_content.proto}, §3);
 *   <li>{@code batchGenerateContent} / {@code asyncBatchEmbedContent}: an Operation whose
 *       {@code name} is {@code batches/{id}} (https://ai.google.dev/api/batch-api, §4), and its
 *       {@code metadata.output.responsesFile}, a file of the same project, when present;
 *   <li>{@code fileSearchStores} create: {@code name} (§5); import and tuning operations:
 *       {@code name} = {@code fileSearchStores/{s}/operations/{op}},
 *       {@code tunedModels/{t}/operations/{op}} (their parent's),
 *       {@code models/{m}/operations/{op}} (a public model's: the operation itself is pinned, §6);
 *   <li>interactions: the bare {@code id} (§7), so the resource is {@code interactions/{id}}.
 * </ul>
 * Names are checked before they become pins, with the request model's own rules
 * ({@link GeminiRequests#resource}, {@link GeminiRequests#uploadId}), so an answer's name and a
 * later request's name for one resource always agree, and an odd answer never pins nonsense. Stateless and thread-safe.
 */
final class CreatedResources {

  /** A resource an answer created, and its expiry when the answer gives one (else null). */
  record Created(ResourceRef ref, Instant expires) {
  }

  /** The response header holding a resumable upload's URL (case-insensitive). */
  static final String UPLOAD_URL_HEADER = "X-Goog-Upload-URL";

  /** The one id rule's bound ({@link GeminiRequests#MAX_ID_LENGTH}). */
  static final int MAX_ID_CHARS = GeminiRequests.MAX_ID_LENGTH;
  /** Create answers nest a few levels; a batch's metadata a few more. */
  static final int MAX_NESTING_DEPTH = 64;


  private static final JsonFactory JSON = JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder()
          .maxNestingDepth(MAX_NESTING_DEPTH)
          .maxStringLength(Affinity.MAX_ANSWER_BYTES)
          .build())
      .build();

  private CreatedResources() {
  }

  /**
   * What the answer to a request that creates a {@code kind} created.
   *
   * @param headers the answer's headers by name, or {@code null}
   * @param body the start of the answer's body, or {@code null}
   * @param unnamed the resource an answer that carries an expiry but no name is about (a
   *     {@code cachedContents} PATCH answered with a field mask), or {@code null}
   */
  static List<Created> read(ResourceKind kind, Function<String, String> headers, byte[] body,
      ResourceRef unnamed) {
    List<Created> out = new ArrayList<>(2);
    if (headers != null && (kind == ResourceKind.UPLOAD || kind == ResourceKind.FILE)) {
      String id = uploadId(headers.apply(UPLOAD_URL_HEADER));
      if (id != null) out.add(new Created(new ResourceRef(ResourceKind.UPLOAD, id), null));
    }
    if (body != null && body.length > 0) {
      Fields f = fields(body);
      ResourceRef ref = null;
      Instant expires = null;
      if (kind == ResourceKind.INTERACTION) {
        if (f.id != null) ref = refOf(f.id.startsWith("interactions/") ? f.id
            : "interactions/" + f.id);
      } else if (f.fileName != null) {
        ref = refOf(f.fileName);
        expires = f.fileExpirationTime;
      } else if (f.name != null) {
        ref = refOf(f.name);
      }
      if (ref == null && f.name == null && f.expireTime != null && unnamed != null) ref = unnamed;
      if (ref != null) {
        if (expires == null) {
          expires = ref.kind() == ResourceKind.FILE ? f.expirationTime
              : ref.kind() == ResourceKind.CACHED_CONTENT ? f.expireTime : null;
        }
        out.add(new Created(ref, expires));
      }
      if (f.responsesFile != null) {
        ResourceRef file = refOf(f.responsesFile);
        if (file != null && file.kind() == ResourceKind.FILE) out.add(new Created(file, null));
      }
    }
    return out;
  }

  /**
   * The resource a created resource's name pins: {@code files/{id}}, {@code cachedContents/{id}},
   * {@code batches/{id}}, {@code operations/{id}}, {@code interactions/{id}} as they are; a file
   * search store's or a tuned model's children by their parent ({@code fileSearchStores/{s}},
   * {@code tunedModels/{t}}); {@code models/{m}/operations/{op}} and
   * {@code generatedFiles/{g}/operations/{op}} as a whole (an operation on something that is not
   * the project's). {@code null} for anything else.
   */
  static ResourceRef refOf(String name) {
    return name == null || name.indexOf(':') >= 0 ? null : GeminiRequests.resource(name);
  }

  /** The {@code upload_id} query parameter of an upload URL, percent-decoded, or null. */
  static String uploadId(String url) {
    if (url == null || url.length() > 8 * 1024) return null;
    String query;
    try {
      query = URI.create(url.trim()).getRawQuery();
    } catch (IllegalArgumentException e) {
      return null;
    }
    if (query == null) return null;
    for (String part : query.split("&")) {
      if (part.startsWith("upload_id=")) {
        return GeminiRequests.uploadId(part.substring("upload_id=".length()));
      }
    }
    return null;
  }

  /** The fields of an answer that name or date what it created. */
  private static final class Fields {
    String name;
    String id;
    Instant expireTime;
    Instant expirationTime;
    String fileName;
    Instant fileExpirationTime;
    String responsesFile;
  }

  private static Fields fields(byte[] body) {
    Fields f = new Fields();
    int length = Math.min(body.length, Affinity.MAX_ANSWER_BYTES);
    try (JsonParser p = JSON.createParser(body, 0, length)) {
      if (p.nextToken() != JsonToken.START_OBJECT) return f;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken value = p.nextToken();
        switch (field) {
          case "name" -> f.name = text(p, value);
          case "id" -> f.id = text(p, value);
          case "expireTime" -> f.expireTime = instant(text(p, value));
          case "expirationTime" -> f.expirationTime = instant(text(p, value));
          case "file" -> readFile(p, value, f);
          case "metadata" -> readMetadata(p, value, f);
          default -> p.skipChildren();
        }
      }
    } catch (IOException | RuntimeException e) {
      // cut short at MAX_ANSWER_BYTES, or not JSON: what was read before counts
    }
    return f;
  }

  private static void readFile(JsonParser p, JsonToken value, Fields f) throws IOException {
    if (value != JsonToken.START_OBJECT) {
      p.skipChildren();
      return;
    }
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String field = p.currentName();
      JsonToken v = p.nextToken();
      switch (field) {
        case "name" -> f.fileName = text(p, v);
        case "expirationTime" -> f.fileExpirationTime = instant(text(p, v));
        default -> p.skipChildren();
      }
    }
  }

  /** {@code metadata.output.responsesFile} of a batch Operation. */
  private static void readMetadata(JsonParser p, JsonToken value, Fields f) throws IOException {
    if (value != JsonToken.START_OBJECT) {
      p.skipChildren();
      return;
    }
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String field = p.currentName();
      JsonToken v = p.nextToken();
      if (field.equals("output") && v == JsonToken.START_OBJECT) {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String inner = p.currentName();
          JsonToken iv = p.nextToken();
          if (inner.equals("responsesFile")) {
            f.responsesFile = text(p, iv);
          } else {
            p.skipChildren();
          }
        }
      } else {
        p.skipChildren();
      }
    }
  }

  private static String text(JsonParser p, JsonToken value) throws IOException {
    if (value == JsonToken.VALUE_STRING) return p.getText();
    p.skipChildren();
    return null;
  }

  /** An RFC 3339 timestamp as Google writes them ({@code 2026-12-09T10:00:00.123456Z}), or null. */
  static Instant instant(String text) {
    if (text == null || text.length() > 64) return null;
    try {
      return Instant.parse(text);
    } catch (DateTimeParseException e) {
      try {
        return OffsetDateTime.parse(text).toInstant();
      } catch (DateTimeParseException again) {
        return null;
      }
    }
  }
}
