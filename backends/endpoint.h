// One instance of an upstream cluster, as one worker sees it: its connections, the calls waiting
// for them, and its health (passive ejection, active checks, connect backoff: EndpointHealth).
//
// While a client (a call's owner) has calls unanswered here, its next calls follow them onto the
// same upstream connection: an upstream that executes each connection's requests in arrival order
// (Redis, the legacy services) then executes a client's pipeline in the order the client sent it.
// A client with nothing unanswered here takes the least loaded connection. Another connection
// opens whenever none is idle, up to max_connections, one connect at a time.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/connection_events.h"
#include "backends/endpoint_health.h"
#include "conf/config.h"

namespace rpcgate {
class CallOwner;
struct PendingCall;
}  // namespace rpcgate

namespace rpcgate::backends {

class Cluster;
class UpstreamConnection;

class Endpoint final : public ConnectionEvents {
 public:
  Endpoint(Cluster& cluster, const conf::Address& address);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  Cluster& cluster() { return cluster_; }
  const std::string& name() const { return name_; }  // "host:port", in logs and errors
  const std::string& host() const { return host_; }  // the address alone: a TLS server name by default
  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&sockaddr_); }

  // The balancer may choose it: not ejected, not failed by health checks, and either connected or
  // allowed to try connecting again (no connect backoff after a refused connect).
  bool usable(uint64_t now_ms) const { return health_.usable(now_ms, !lanes_.empty()); }
  size_t pending() const { return pending_; }
  // Why the last connect failed, when no connect has succeeded since; empty otherwise.
  const std::string& last_connect_error() const { return health_.last_connect_error(); }

  // Sends `call` on its owner's connection, or the least loaded one, or keeps it waiting.
  void submit(PendingCall* call);
  // Takes back a call that is waiting here (timeout, client gone).
  void withdraw_waiting(PendingCall* call);
  // Gives up on a call in flight here: its reply will be dropped.
  void orphan(PendingCall* call, bool timed_out);
  // Closes every connection, for shutdown or once retired; calls must all be gone already.
  void close_all(const std::string& why = "shutting down");

  // From its pool's connections. A failed connect, or a connection lost with calls on it, is one
  // failure of the endpoint, however many requests went down with it.
  void on_connected(UpstreamConnection* connection) override;
  void on_room(UpstreamConnection* connection) override;
  void on_answer(PendingCall* call) override;
  void on_call_lost(PendingCall* call, bool sent, const std::string& error) override;
  void on_connection_closed(UpstreamConnection* connection, bool was_connected, bool lost_calls,
                            const std::string& error) override;

  // A TLS handshake to it failed with `error`: true when that is news (the first failure, or
  // another reason than the last), worth a log line; a failure repeated at every reconnect is not.
  bool tls_failure_is_news(const std::string& error);
  // A handshake succeeded: the next failure is news again.
  void on_tls_established() { last_tls_failure_.clear(); }

  // Pinned connections: each a client's own, outside the pool. False when max_pinned are open.
  bool take_pin_slot();
  void release_pin_slot();

  // Discovery removed it: calls not yet sent go back to the cluster to be placed elsewhere, those
  // in flight finish here, pinned clients keep their connections. Once nothing is left, its
  // connections close and the cluster frees it. revive() undoes retire() if it comes back first.
  void retire();
  void revive();
  bool retired() const { return retired_; }
  bool closing() const { return closing_; }
  // For INFO: why the balancer would not choose it now, or "up".
  std::string health(uint64_t now_ms) const;
  size_t connections() const { return lanes_.size(); }

  // Health: a transport failure (connect, close, garbage, timeout) or a good answer.
  void record_failure(const std::string& why);
  void record_success();
  // Active health check results, counted against the configured thresholds.
  void record_check(bool passed, const std::string& why);

 private:
  // A connection (open or connecting) and the calls assigned to it that wait for room.
  struct Lane {
    UpstreamConnection* connection = nullptr;  // frees itself once closed
    std::deque<PendingCall*> queue;
  };
  // Where an owner's unanswered calls here go. While some wait unassigned, later ones queue
  // behind them there; each is given the owner's connection as it leaves the queue.
  struct Stick {
    UpstreamConnection* connection = nullptr;  // null until the first call is assigned
    size_t calls = 0;
    size_t unassigned = 0;
  };

  Lane* lane_of(const UpstreamConnection* connection);
  // The open connection with room and nothing queued that carries the fewest requests.
  UpstreamConnection* least_loaded() const;
  // The open connection with the fewest requests sent or queued, room or not.
  UpstreamConnection* least_busy() const;
  void enqueue(PendingCall* call, UpstreamConnection* connection);
  void send_queued(Lane& lane);
  // Gives waiting unassigned calls to connections, in arrival order.
  void assign_unassigned();
  // Opens one more connection when none is idle, the pool may grow and no connect is in
  // progress: legacy servers have an accept backlog of 1.
  void grow();
  // A call leaves this endpoint (answered, lost, given up): its owner's stick loosens.
  void release(PendingCall* call);
  // Counts and logs an ejection that a failure (for `why`) caused, if it did.
  void report_ejection(std::optional<uint64_t> duration_ms, const std::string& why);
  // Retired and nothing left: closes it from the loop (never from inside a caller's callback).
  void finish_retirement_when_idle();
  static void on_retry_timer_closed(uv_handle_t* handle);

  Cluster& cluster_;
  std::string name_;
  std::string host_;
  std::string last_tls_failure_;  // logged already; empty once a handshake succeeds
  sockaddr_storage sockaddr_{};
  std::vector<Lane> lanes_;
  std::deque<PendingCall*> unassigned_;  // no connection could take them yet, in arrival order
  std::unordered_map<const CallOwner*, Stick> sticks_;
  size_t pending_ = 0;  // waiting here or in flight on its connections
  size_t pinned_ = 0;   // pinned connections open to it
  bool connecting_ = false;
  bool retired_ = false;
  bool closing_ = false;

  EndpointHealth health_;  // passive ejection, active check verdict, connect backoff
  // The retry after a timed-out connect, which the waiting calls expect within their deadlines;
  // also closes a retired endpoint from the loop.
  uv_timer_t retry_timer_{};
};

}  // namespace rpcgate::backends
