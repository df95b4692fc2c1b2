// A client's own upstream connection ("pinned"), for requests that leave state on the server's
// side of their connection (a Redis transaction, a blocking pop, a subscription). It lives until
// the client connection closes, and is then closed, never returned to a pool, so its state can
// never reach another client.
//
// The first request waits until the client's earlier requests to the same cluster, sent on pool
// connections, are answered: otherwise the upstream could run the later request first.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "backends/connection_events.h"
#include "codecs/upstream_session.h"

namespace rpcgate {
class CallOwner;
struct PendingCall;
}  // namespace rpcgate

namespace rpcgate::backends {

class Cluster;
class Endpoint;
class UpstreamConnection;

class Pin final : public ConnectionEvents {
 public:
  // `preamble`: frames sent before any call, to recreate session state the client set while it
  // had no connection of its own (RESP: HELLO 3, its name); their replies are matched and
  // dropped before any call switches the connection to pushes.
  Pin(Cluster& cluster, Endpoint& endpoint, CallOwner& owner, bool wait_for_earlier, std::vector<std::string> preamble);
  ~Pin();
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;

  Cluster& cluster() { return cluster_; }
  bool waiting_for_earlier() const { return wait_for_earlier_; }
  // The earlier requests are answered: the queued ones may go.
  void release_barrier();
  // Its connection is gone, and the client's state on the server with it.
  bool broken() const { return connection_ == nullptr; }

  void submit(PendingCall* call);
  // Once a call that starts a stream is in (PendingCall::starts_stream): bytes from the client,
  // sent as they are behind it.
  void send_raw(std::string_view bytes);
  // Bytes sent and not yet taken by the kernel, or waiting to be sent.
  size_t unsent() const;
  // The call's owner gave up on it.
  void cancel(PendingCall* call);
  // The client is gone: closes the connection.
  void close();
  // The client's session on it is over (a sharded cluster's, whose client must follow its keys
  // again): closes the connection, the client staying. Only once nothing is out on it.
  void release();
  bool idle() const;
  // What the client's requests so far leave on the connection (UpstreamSession::track).
  codec::SessionHold& hold() { return hold_; }

  void on_connected(UpstreamConnection* connection) override;
  void on_room(UpstreamConnection* connection) override;
  void on_answer(PendingCall* call) override;
  void on_call_lost(PendingCall* call, bool sent, const std::string& error) override;
  void on_connection_closed(UpstreamConnection* connection, bool was_connected, bool lost_calls,
                            const std::string& error) override;
  void on_push(std::string_view frame) override;

 private:
  void send_queued();

  Cluster& cluster_;
  Endpoint& endpoint_;
  CallOwner& owner_;
  UpstreamConnection* connection_;  // null once closed
  std::deque<PendingCall*> queue_;  // not sent yet
  std::string raw_;                 // bytes from the client, behind the queue
  std::vector<std::string> preamble_;
  bool connected_ = false;
  bool wait_for_earlier_;
  bool released_ = false;
  codec::SessionHold hold_;
};

}  // namespace rpcgate::backends
