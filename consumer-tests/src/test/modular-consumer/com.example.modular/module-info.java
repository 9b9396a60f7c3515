/**
 * A user's modular program. Each requires names a published jar by the Automatic-Module-Name in
 * its manifest; without it the module would be named after the file (gemini.rotator.okhttp).
 */
module com.example.modular {
  requires dev.geminirotator.api;
  requires dev.geminirotator.core;
  requires dev.geminirotator.okhttp;
  requires okhttp3;
  requires jdk.httpserver;
}
