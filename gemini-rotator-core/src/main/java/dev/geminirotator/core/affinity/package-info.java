/**
 * Resource affinity: files, uploads, context caches, batches, file search stores, operations and
 * interactions belong to the Google Cloud project whose key created them. Core learns the owner
 * from the creating answer, keeps the pin in the key-state store for the resource's lifetime, and
 * sends later requests naming the resource only to keys of that project ({@link
 * dev.geminirotator.core.internal.affinity.Placement}).
 */
package dev.geminirotator.core.affinity;
