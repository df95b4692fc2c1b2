// What an upstream connection reports, to whoever opened it: an endpoint's pool, or a client's
// pinned connection. The receiver decides what a lost call or a closed connection means.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rpcgate {
struct PendingCall;
}

namespace rpcgate::backends {

class UpstreamConnection;

class ConnectionEvents {
 public:
  virtual void on_connected(UpstreamConnection* connection) = 0;
  // Replies freed room for more requests.
  virtual void on_room(UpstreamConnection* connection) = 0;
  // `call` has its answer.
  virtual void on_answer(PendingCall* call) = 0;
  // A call lost with its connection. `sent`: its bytes may have reached the upstream.
  virtual void on_call_lost(PendingCall* call, bool sent, const std::string& error) = 0;
  // `was_connected` false: the connect failed or timed out. `lost_calls`: requests waiting for
  // answers went down with it. Called from inside close(); the connection frees itself later.
  virtual void on_connection_closed(UpstreamConnection* connection, bool was_connected, bool lost_calls,
                                    const std::string& error) = 0;
  // A frame the upstream sent on its own (a RESP3 push), or, once the connection streams, the
  // bytes of one read.
  virtual void on_push(std::string_view frame) { (void)frame; }

 protected:
  ~ConnectionEvents() = default;
};

}  // namespace rpcgate::backends
