// Every upstream cluster of one event loop, and what they share: the deadline timer, the read
// buffer, and the end-of-iteration flush that turns all the requests queued for one connection
// during a loop iteration into one write.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/cluster.h"
#include "backends/upstream_connection.h"
#include "conf/config.h"
#include "core/before_poll.h"
#include "core/deadline_queue.h"
#include "core/stats.h"
#include "discovery/nodes.h"

namespace rpcgate::backends {

class HealthChecker;

class Upstreams {
 public:
  // `read_scratch` is the loop's shared read buffer (reads are serial on one loop). `stats` is
  // this process's slot: each cluster counts into its entry.
  Upstreams(uv_loop_t* loop, const conf::Config& config, Stats& stats, char* read_scratch, size_t scratch_bytes);
  ~Upstreams();
  Upstreams(const Upstreams&) = delete;
  Upstreams& operator=(const Upstreams&) = delete;

  // Builds the clusters and starts their health checks; fills `error` ("FILE:LINE: ...") on failure.
  bool start(std::string& error);
  // nullptr for an unknown name.
  Cluster* find(std::string_view name) const;
  const std::vector<std::unique_ptr<Cluster>>& clusters() const { return clusters_; }
  // Each cluster that discovers its endpoints under a path of `snapshot` takes that path's nodes
  // (a path missing from it is left as it is: not read yet).
  void apply_discovery(const discovery::Snapshot& snapshot);
  // Refreshes the gauges only a scan can tell (endpoints usable now), for the metrics.
  void update_gauges();
  // Stops health checks, closes every upstream connection and timer, then calls `on_closed`.
  void close(std::function<void()> on_closed);

  uv_loop_t* loop() const { return loop_; }
  uint64_t now_ms() const { return uv_now(loop_); }
  DeadlineQueue& deadlines() { return deadlines_; }
  char* read_scratch() const { return read_scratch_; }
  size_t scratch_bytes() const { return scratch_bytes_; }
  // Where a TLS connection's read is decrypted: at most what was read, and reused by every read.
  std::string& tls_plaintext() { return tls_plaintext_; }

  // `connection` has requests to write: written, with all others, before the loop next polls.
  void schedule_flush(UpstreamConnection* connection) { to_flush_.schedule(connection); }
  // A connection going away must not be flushed.
  void unschedule_flush(UpstreamConnection* connection) { to_flush_.cancel(connection); }
  // A libuv handle of ours was opened or has finished closing: close() waits for the count to drop.
  void handle_opened() { ++open_handles_; }
  void handle_closed();

 private:
  static void on_deadline(void* context, DeadlineNode* node);

  uv_loop_t* loop_;
  const conf::Config& config_;
  Stats& stats_;
  ClusterStats uncounted_;  // for clusters past Stats::kMaxClusters
  char* read_scratch_;
  size_t scratch_bytes_;
  std::string tls_plaintext_;
  std::vector<std::unique_ptr<Cluster>> clusters_;
  std::vector<std::unique_ptr<HealthChecker>> checkers_;
  DeadlineQueue deadlines_;
  BeforePoll<UpstreamConnection> to_flush_;
  size_t open_handles_ = 2;  // the deadline timer and the flush hook
  bool closing_ = false;
  std::function<void()> on_closed_;
};

}  // namespace rpcgate::backends
