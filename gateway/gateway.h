// One serving event loop: the listeners of the config, their connections, the router and the
// handlers, the counters. The process around it (single, or a worker) owns the loop and signals.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "core/before_poll.h"
#include "core/message.h"
#include "core/stats.h"
#include "discovery/nodes.h"
#include "gateway/router.h"

namespace rpcgate {

namespace backends {
class Upstreams;
}

class AccessLog;
class Connection;
class FdReceiver;
class Listener;

// Where a gateway's connections come from.
struct Sockets {
  std::vector<int> listen_fds;     // inherited listening sockets, one per listener (-1: open here)
  bool reuse_port = false;         // open them here with SO_REUSEPORT
  int passed_fds = -1;             // fdpass: a Unix socket the master sends accepted connections over
  int connection_fd = -1;          // fork: the one connection this process serves, then exits
  size_t connection_listener = 0;  // fork: the index of the listener it came to
};

class Gateway {
 public:
  // `stats.slot(stats_slot)` is this process's to write.
  Gateway(uv_loop_t* loop, const conf::Config& config, StatsTable& stats, size_t stats_slot);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Builds the router and serves every listener of the config from `sockets`. On failure fills
  // `error`, and the caller should still drain() so what was opened gets closed.
  // `discovered`: the endpoints the master had discovered when it forked this worker, if any.
  bool start(const Sockets& sockets, std::string& error, const discovery::Snapshot* discovered = nullptr);
  // A newer snapshot from the master.
  void apply_discovery(const discovery::Snapshot& snapshot);
  // A reload that changed only certificate files (the master's ControlKind::kReloadTls): each
  // TLS listener and cluster reads its files again for the connections opened from now on; open
  // ones keep the context they started with. A file that no longer loads is logged, naming it,
  // and the context in use stays. `who` names this process in the log ("worker 0").
  void reload_tls(const std::string& who);
  // Stops accepting, lets connections finish what they have read, and calls `on_drained` once
  // the last one has closed (or drain_timeout has cut them off). All handles are closed then.
  void drain(std::function<void()> on_drained);
  bool draining() const { return draining_; }
  // Ready for calls, as /readyz and the health handler judge it: not draining (this process or,
  // through the shared stats, the master), and not failed on purpose (POST /healthcheck/fail).
  // Read again on every sweep, which tells the connections of a change.
  bool serving() const { return serving_; }
  // fork: called once the one connection has closed (the process then drains and exits).
  void on_last_connection(std::function<void()> callback) { on_last_connection_ = std::move(callback); }
  // True once drain_timeout cut connections off; calls may still be running on the thread pool.
  bool drain_timed_out() const { return drain_timed_out_; }

  uv_loop_t* loop() const { return loop_; }
  // Null unless logging.access_log is on.
  AccessLog* access_log() const { return access_log_.get(); }
  // SIGUSR1: the access log's file was rotated.
  void reopen_access_log();
  const conf::Config& config() const { return config_; }
  const Router& router() const { return *router_; }
  Stats& stats() { return stats_; }
  const StatsTable& stats_table() const { return stats_table_; }
  uint64_t now_ms() const { return uv_now(loop_); }

  // The loop-wide buffer reads land in when a connection has no partial frame to append to.
  // Reads are serial on one loop, so one buffer serves every connection.
  char* read_scratch() { return read_scratch_.get(); }
  // Where a TLS connection's read is decrypted, then decoded like a plain read in read_scratch:
  // reads are serial on one loop, so one buffer serves every connection.
  std::string& tls_plaintext() { return tls_plaintext_; }
  static constexpr size_t kReadScratchBytes = 64 * 1024;
  // The request every connection of the loop decodes into, and the response it builds an answer
  // made on the spot in. One connection decodes at a time, and it is done with both (the answer
  // encoded, or moved into the PendingCall that waits) before its read or pump returns, so the
  // loop needs one pair rather than 296 bytes in each connection.
  Request& spot_request() { return spot_request_; }
  Response& spot_response() { return spot_response_; }

  // An id for a new client connection, unique among the processes of one master (RESP HELLO
  // shows it): this process's stats slot in the high bits.
  uint64_t next_connection_id() { return ((static_cast<uint64_t>(stats_slot_) + 1) << 32) + ++connections_made_; }

  void add_connection(Connection* connection);
  void remove_connection(Connection* connection);
  void remove_listener(Listener* listener);
  // `connection` has answers ready: it writes them just before the loop next polls, together with
  // any others that become ready in the same iteration (replies read from an upstream in one
  // read go to their client in one write).
  void defer_pump(Connection* connection);
  void cancel_deferred_pump(Connection* connection);

 private:
  static void on_sweep(uv_timer_t* timer);
  void update_serving();
  static void on_drain_timeout(uv_timer_t* timer);
  void close_idle_connections();
  void finish_drain_if_done();

  uv_loop_t* loop_;
  const conf::Config& config_;
  StatsTable& stats_table_;
  size_t stats_slot_;
  Stats& stats_;
  std::unique_ptr<AccessLog> access_log_;
  std::unique_ptr<backends::Upstreams> upstreams_;
  std::unique_ptr<Router> router_;
  std::vector<Listener*> listeners_;          // each frees itself when closed
  std::vector<Listener*> listener_by_index_;  // config order; read only while not draining
  FdReceiver* fd_receiver_ = nullptr;         // fdpass; frees itself when closed
  Connection* connections_ = nullptr;         // intrusive list head
  uint64_t connections_made_ = 0;
  std::unique_ptr<char[]> read_scratch_;
  std::string tls_plaintext_;
  Request spot_request_;
  Response spot_response_;
  uv_timer_t sweep_timer_{};
  uv_timer_t drain_timer_{};
  BeforePoll<Connection> to_pump_;
  bool upstreams_closing_ = false;
  bool draining_ = false;
  bool serving_ = true;
  bool drain_timed_out_ = false;
  std::function<void()> on_drained_;
  bool one_connection_ = false;  // fork: its lifecycle is logged at debug level, once per connection
  std::function<void()> on_last_connection_;
};

}  // namespace rpcgate
