/**
 * The standalone proxy: {@link dev.geminirotator.standalone.Main} (command line),
 * {@link dev.geminirotator.standalone.StandaloneConfig} (configuration),
 * {@link dev.geminirotator.standalone.ProxyServer} (the running server) and
 * {@link dev.geminirotator.standalone.ConfigWatcher} (hot reload). Everything else is
 * package-private: the proxy handler over core's attempt policy, client identity and limits, the
 * admin API, problem documents and Files API pinning.
 */
package dev.geminirotator.standalone;
