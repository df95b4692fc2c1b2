// One instance of an upstream cluster, as one worker sees it: its connections, the calls waiting
// for them, and its health (passive ejection, active checks, connect backoff).
//
// The pool has max_connections slots. A call goes to the slot its affinity picks, so every call
// of one client connection travels on the same upstream connection: an upstream that executes
// requests in arrival order per connection (Redis, the legacy services) executes a client's
// pipeline in the order the client sent it. Slots open on first use, one connect at a time.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "conf/config.h"

namespace rpcgate {
struct PendingCall;
}

namespace rpcgate::backends {

class Cluster;
class UpstreamConnection;

class Endpoint {
 public:
  Endpoint(Cluster& cluster, const conf::Address& address);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  Cluster& cluster() { return cluster_; }
  const std::string& name() const { return name_; }  // "host:port", in logs and errors
  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&sockaddr_); }

  // The balancer may choose it for a call with this affinity: not ejected, not failed by health
  // checks, and the call's connection is open or may be opened now (no connect backoff).
  bool usable(uint32_t affinity, uint64_t now_ms) const;
  size_t pending() const { return pending_; }

  // Sends `call` on its slot's connection, or keeps it waiting there (opening the connection).
  void submit(PendingCall* call);
  // Takes back a call that is waiting here (timeout, client gone).
  void withdraw_waiting(PendingCall* call);
  // Gives up on a call in flight here: its reply will be dropped.
  void orphan(PendingCall* call);
  // Closes every connection, for shutdown; calls must all be gone already.
  void close_all();

  // From its connections.
  void on_connected(UpstreamConnection* connection);
  void on_room(UpstreamConnection* connection);
  void on_answer(PendingCall* call);
  // A call lost with its connection. `sent`: its bytes may have reached the upstream.
  void on_call_lost(PendingCall* call, bool sent, const std::string& error);
  // `was_connected` false: the connect failed or timed out.
  void on_connection_closed(UpstreamConnection* connection, bool was_connected, const std::string& error);

  // Health: a transport failure (connect, close, garbage, timeout) or a good answer.
  void record_failure(const std::string& why);
  void record_success();
  // Active health check results, counted against the configured thresholds.
  void record_check(bool passed, const std::string& why);

 private:
  struct Slot {
    UpstreamConnection* connection = nullptr;  // frees itself once closed
    std::deque<PendingCall*> waiting;          // for this connection, in order
  };

  Slot& slot_of(uint32_t affinity) { return slots_[affinity % slots_.size()]; }
  const Slot& slot_of(uint32_t affinity) const { return slots_[affinity % slots_.size()]; }
  Slot* slot_of(const UpstreamConnection* connection);
  void send_waiting(Slot& slot);
  // Opens the connection of one slot that has calls waiting and none open, unless a connect is
  // in progress: legacy servers have an accept backlog of 1.
  void open_next();

  Cluster& cluster_;
  std::string name_;
  sockaddr_storage sockaddr_{};
  std::vector<Slot> slots_;
  size_t pending_ = 0;  // waiting here or in flight on its connections
  bool connecting_ = false;

  // Connect backoff: after a failed connect, no new attempt before next_connect_ms_.
  uint64_t next_connect_ms_ = 0;
  unsigned connect_failures_ = 0;

  // Passive outlier ejection.
  unsigned consecutive_failures_ = 0;
  unsigned ejections_ = 0;
  uint64_t ejected_until_ms_ = 0;
  uint64_t last_ejection_end_ms_ = 0;

  // Active health checks.
  bool checked_down_ = false;
  unsigned check_streak_ = 0;  // consecutive results contrary to checked_down_
};

}  // namespace rpcgate::backends
