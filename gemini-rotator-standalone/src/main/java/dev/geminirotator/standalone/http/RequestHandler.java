package dev.geminirotator.standalone.http;

import io.netty.channel.Channel;

/**
 * What a {@link ClientConnection} hands its requests to: the one seam between the HTTP plumbing
 * and what a request means. Called on the connection's event loop; an implementation must not
 * block there (it offloads what may block) and must be safe to share between connections.
 */
public interface RequestHandler {

  /**
   * Answers one request, now or later, by writing {@link Call#response}; reads its body, if
   * wanted, with {@link Call#readBody} once it has admitted the request.
   */
  void handle(Call call);

  /**
   * Answers a request whose head could not be decoded, or whose target or {@code Host} is
   * unusable, with {@code status} and a {@code detail} fit for the client; the connection closes
   * after it.
   */
  void badRequestHead(Channel channel, int status, String detail);
}
