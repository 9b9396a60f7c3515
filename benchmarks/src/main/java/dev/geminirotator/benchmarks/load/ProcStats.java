package dev.geminirotator.benchmarks.load;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * One reading of another process's /proc entries (Linux): resident memory now and at its peak,
 * thread count and open file descriptors. Immutable.
 */
final class ProcStats {

  final long rssKb;
  final long hwmKb;
  final int threads;
  final int fds;

  private ProcStats(long rssKb, long hwmKb, int threads, int fds) {
    this.rssKb = rssKb;
    this.hwmKb = hwmKb;
    this.threads = threads;
    this.fds = fds;
  }

  /** Reads /proc/{pid}; returns {@code null} when the process is gone or unreadable. */
  static ProcStats read(long pid) {
    if (pid <= 0) return null;
    try {
      List<String> lines = Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"));
      long rss = field(lines, "VmRSS:");
      long hwm = field(lines, "VmHWM:");
      int threads = (int) field(lines, "Threads:");
      int fds = 0;
      try (DirectoryStream<Path> dir =
          Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "fd"))) {
        for (Path ignored : dir) fds++;
      }
      return new ProcStats(rss, hwm, threads, fds);
    } catch (IOException e) {
      return null;
    }
  }

  private static long field(List<String> lines, String name) {
    for (String line : lines) {
      if (line.startsWith(name)) {
        return Long.parseLong(line.substring(name.length()).trim().split("\\s+")[0]);
      }
    }
    return -1;
  }

  @Override
  public String toString() {
    return "rssMB=" + rssKb / 1024 + " peakRssMB=" + hwmKb / 1024 + " threads=" + threads
        + " fds=" + fds;
  }
}
