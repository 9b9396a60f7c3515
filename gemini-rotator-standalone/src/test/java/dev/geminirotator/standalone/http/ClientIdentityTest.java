package dev.geminirotator.standalone.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ClientIdentityTest {

  @Test
  void forwardedForIsOnlyBelievedFromTrustedProxies() {
    ClientIdentity identity = new ClientIdentity(List.of("10.0.0.0/8", "192.168.1.7"));

    assertThat(identity.clientAddress("203.0.113.9", "127.0.0.1")).isEqualTo("203.0.113.9");
    assertThat(identity.clientAddress("10.1.2.3", "198.51.100.4")).isEqualTo("198.51.100.4");
    assertThat(identity.clientAddress("192.168.1.7", "198.51.100.4, 10.9.9.9"))
        .isEqualTo("198.51.100.4");
    // A client cannot hide behind a forged left-most entry: the right-most untrusted hop counts.
    assertThat(identity.clientAddress("10.1.2.3", "127.0.0.1, 198.51.100.4"))
        .isEqualTo("198.51.100.4");
    assertThat(identity.clientAddress("10.1.2.3", "not-an-ip")).isEqualTo("10.1.2.3");
    assertThat(new ClientIdentity(List.of()).clientAddress("10.1.2.3", "198.51.100.4"))
        .isEqualTo("10.1.2.3");
  }

  @Test
  void trustedProxyEntriesMustBeAddressesOrRanges() {
    assertThat(ClientIdentity.validProxyEntry("10.0.0.0/8")).isTrue();
    assertThat(ClientIdentity.validProxyEntry("::1")).isTrue();
    assertThat(ClientIdentity.validProxyEntry("fd00::/8")).isTrue();
    assertThat(ClientIdentity.validProxyEntry("10.0.0.0/33")).isFalse();
    assertThat(ClientIdentity.validProxyEntry("proxy.example.com")).isFalse();
    assertThat(ClientIdentity.isLoopback("127.0.0.1")).isTrue();
    assertThat(ClientIdentity.isLoopback("::1")).isTrue();
    assertThat(ClientIdentity.isLoopback("::ffff:127.0.0.1")).isTrue();
    assertThat(ClientIdentity.isLoopback("10.0.0.1")).isFalse();
  }

  @Test
  void forwardedAddressesAreNeverLookedUp() {
    assertThat(ClientIdentity.literal("ad.be.ef.cafe")).isNull();
    assertThat(ClientIdentity.literal("localhost")).isNull();
    assertThat(ClientIdentity.literal("127.0.0.1")).containsExactly(127, 0, 0, 1);
    assertThat(ClientIdentity.literal("::1")).hasSize(16);
  }
}
