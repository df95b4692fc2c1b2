// One instance of an upstream cluster, as one worker sees it: its connection pool, the calls
// waiting for a connection with room, and its health (passive ejection, active checks, connect
// backoff). Calls wait here, not in the cluster, because a balancer such as consistent_hash
// chose this very endpoint for them.
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

  // The balancer may choose it: not ejected, not failed by health checks, and either connected
  // or allowed to try connecting again.
  bool usable(uint64_t now_ms) const;
  size_t pending() const { return pending_; }

  // Sends `call` on the least loaded connection with room, or keeps it waiting for one (opening
  // another connection when the pool may grow).
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
  bool checked_down() const { return checked_down_; }
  size_t open_connections() const { return connections_.size(); }

 private:
  UpstreamConnection* connection_with_room() const;
  void maybe_open_connection();
  void place_waiting();
  void fail_waiting(const std::string& error);

  Cluster& cluster_;
  std::string name_;
  sockaddr_storage sockaddr_{};
  std::vector<UpstreamConnection*> connections_;  // each frees itself once closed
  std::deque<PendingCall*> waiting_;
  size_t pending_ = 0;  // waiting here or in flight on its connections

  // Connect backoff: after a failed connect, no new attempt before next_connect_ms.
  uint64_t next_connect_ms_ = 0;
  unsigned connect_failures_ = 0;
  bool connecting_ = false;  // one connect at a time: legacy servers have a backlog of 1

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
