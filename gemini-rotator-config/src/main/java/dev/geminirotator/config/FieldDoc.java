package dev.geminirotator.config;

/**
 * One configuration field as a reader declared it: what the README's configuration reference is
 * generated from. Immutable.
 *
 * @param path the field's path, e.g. {@code health.threshold}; {@code keys[].weight} for a field of
 *     every entry of a list
 * @param type what the field holds, e.g. {@code duration} or {@code one of round-robin, weighted}
 * @param defaultValue the default as it would be written in YAML, or {@code null} when there is
 *     none
 * @param env the environment variable that overrides the field, or {@code null} when none does
 *     (fields of list entries)
 */
public record FieldDoc(String path, String type, String defaultValue, String env) {
}
