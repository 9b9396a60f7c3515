package dev.geminirotator.standalone.http;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Works out who a client is: its address (from {@code X-Forwarded-For} only when the direct peer
 * is a trusted proxy) and whether that address is loopback. Immutable and thread-safe.
 */
public final class ClientIdentity {

  private static final Pattern IP_CHARS = Pattern.compile("[0-9A-Fa-f:.]{2,45}");
  private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(?:\\.\\d{1,3}){3}");

  private final List<byte[]> networks = new ArrayList<>();
  private final List<Integer> prefixes = new ArrayList<>();

  public ClientIdentity(List<String> trustedProxies) {
    for (String entry : trustedProxies) {
      String[] parts = entry.trim().split("/", 2);
      byte[] addr = literal(parts[0]);
      if (addr == null) continue;
      networks.add(addr);
      prefixes.add(parts.length == 2 ? Integer.parseInt(parts[1]) : addr.length * 8);
    }
  }

  /** Whether a {@code server.trusted-proxies} entry is an IP literal or a CIDR range. */
  public static boolean validProxyEntry(String entry) {
    if (entry == null) return false;
    String[] parts = entry.trim().split("/", 2);
    byte[] addr = literal(parts[0]);
    if (addr == null) return false;
    if (parts.length == 1) return true;
    try {
      int p = Integer.parseInt(parts[1]);
      return p >= 0 && p <= addr.length * 8;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  /**
   * The client's address: the direct peer, or, when the peer is a trusted proxy, the right-most
   * untrusted address of {@code X-Forwarded-For}.
   */
  public String clientAddress(String peer, String forwardedFor) {
    if (forwardedFor == null || networks.isEmpty() || !trusted(peer)) return peer;
    String[] hops = forwardedFor.split(",");
    for (int i = hops.length - 1; i >= 0; i--) {
      String hop = hops[i].trim();
      if (literal(hop) == null) return peer;
      if (!trusted(hop)) return hop;
    }
    return hops[0].trim();
  }

  /** Whether the direct peer is a configured trusted proxy. */
  public boolean isTrustedProxy(String peer) {
    return !networks.isEmpty() && trusted(peer);
  }

  /** Whether an address literal is a loopback address. */
  public static boolean isLoopback(String address) {
    if ("127.0.0.1".equals(address)) return true; // the usual case, without parsing
    byte[] a = literal(address);
    if (a == null) return false;
    try {
      return InetAddress.getByAddress(a).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  private boolean trusted(String address) {
    byte[] a = literal(address);
    if (a == null) return false;
    for (int i = 0; i < networks.size(); i++) {
      if (matches(networks.get(i), prefixes.get(i), a)) return true;
    }
    return false;
  }

  private static boolean matches(byte[] net, int prefix, byte[] addr) {
    if (net.length != addr.length) return false;
    int full = prefix / 8;
    for (int i = 0; i < full; i++) {
      if (net[i] != addr[i]) return false;
    }
    int rest = prefix % 8;
    if (rest == 0) return true;
    int mask = (0xFF << (8 - rest)) & 0xFF;
    return (net[full] & mask) == (addr[full] & mask);
  }

  /** Parses an IP literal without any DNS lookup; {@code null} when it is not one. */
  static byte[] literal(String text) {
    if (text == null) return null;
    String t = text.trim();
    if (t.startsWith("[") && t.endsWith("]")) t = t.substring(1, t.length() - 1);
    if (!IP_CHARS.matcher(t).matches()) return null;
    // InetAddress.getByName resolves anything that is not a literal: only let literals through.
    // IPv4: four decimal parts. IPv6: has a ':' (getByName never looks those up).
    if (t.indexOf(':') < 0 && !IPV4.matcher(t).matches()) return null;
    try {
      byte[] b = InetAddress.getByName(t).getAddress(); // a literal: no lookup
      if (b.length == 16) {
        boolean mapped = true;
        for (int i = 0; i < 10; i++) mapped &= b[i] == 0;
        mapped &= b[10] == (byte) 0xFF && b[11] == (byte) 0xFF;
        if (mapped) return new byte[] {b[12], b[13], b[14], b[15]};
      }
      return b;
    } catch (UnknownHostException e) {
      return null;
    }
  }
}
