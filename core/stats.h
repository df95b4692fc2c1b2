// Counters of one serving process, and the table of every worker's counters. The table lives in
// memory shared by the master and all workers (created before the fork), one slot per worker, so
// any worker can answer INFO with totals across all of them.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/message.h"

namespace rpcgate {

// A counter with one writer (the worker owning the slot) and any number of readers in other
// processes. A relaxed load and store is a plain move on x86-64, unlike an atomic increment,
// and is exact because nobody else writes it.
class Counter {
 public:
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }
  void set(uint64_t value) { value_.store(value, std::memory_order_relaxed); }
  Counter& operator+=(uint64_t n) {
    set(get() + n);
    return *this;
  }
  Counter& operator++() { return *this += 1; }
  Counter& operator--() {
    set(get() - 1);
    return *this;
  }

 private:
  std::atomic<uint64_t> value_{0};
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "counters must work in shared memory");

// Request latencies in fixed buckets, from 50 us to 10 s (Prometheus `le` bounds), plus the
// overflow, the count and the sum. Buckets are stored per interval, not cumulative, so recording
// is one increment; readers add them up.
struct LatencyHistogram {
  static constexpr std::array<uint64_t, 17> kBoundsUs = {50,     100,     250,     500,     1000,    2500,
                                                         5000,   10000,   25000,   50000,   100000,  250000,
                                                         500000, 1000000, 2500000, 5000000, 10000000};
  std::array<Counter, kBoundsUs.size() + 1> buckets{};  // the last: above 10 s
  Counter count;
  Counter sum_us;

  void record_ns(uint64_t ns) {
    uint64_t us = ns / 1000;
    size_t i = 0;
    while (i < kBoundsUs.size() && us > kBoundsUs[i]) ++i;
    ++buckets[i];
    ++count;
    sum_us += us;
  }
};

// A histogram summed over every worker, as readers (metrics, INFO, /stats) use it.
struct HistogramTotals {
  std::array<uint64_t, LatencyHistogram::kBoundsUs.size() + 1> buckets{};
  uint64_t count = 0;
  uint64_t sum_us = 0;
  // The q-quantile (0 < q < 1) in microseconds, interpolated within its bucket; 0 when empty.
  // Past the last bound it says 10 s: the histogram knows no more.
  double percentile_us(double q) const;
};

// The TLS handshakes of one listener or cluster: those completed, and those that failed, by kind
// (indexed by tls::TlsFailure: verify, protocol, timeout, alpn, other).
struct TlsCounters {
  static constexpr size_t kFailureKinds = 5;
  Counter handshakes;
  std::array<Counter, kFailureKinds> failures{};
};

// One upstream cluster, as one worker uses it. The last two are gauges: what is true now.
struct ClusterStats {
  Counter requests;           // calls submitted, including those refused at once
  Counter answers;            // answers read from an upstream (errors it answered included)
  Counter retries;            // attempts sent again after a failure
  Counter timeouts;           // attempts that got no answer in time
  Counter connects;           // upstream connections opened
  Counter connect_failures;   // connects refused or timed out
  Counter ejections;          // endpoints ejected after consecutive failures
  Counter pins;               // clients given an upstream connection of their own
  Counter replies_too_large;  // replies over the cluster's limits, passed over; their calls failed
  Counter login_failures;     // connections whose login (username, password) the upstream refused
  Counter health_checks;      // active health checks sent (apart from requests and answers)
  Counter pending;            // calls waiting or in flight now
  Counter connections;        // pool connections open now
  Counter pinned;             // pinned connections open now
  Counter endpoints;          // in its endpoint set now
  Counter endpoints_usable;   // of those, the ones the balancer may choose now
  LatencyHistogram latency;   // submit to answer, as the client sees it
  TlsCounters tls;            // with `tls:`, its connections' handshakes to its upstreams
};

// A worker's view of its upstream endpoints (health, pending calls, connections), as JSON text it
// rewrites every second, for the admin port's GET /clusters. One writer, readers in other
// processes: a sequence lock (odd while writing) lets a reader detect a torn copy and retry.
class EndpointReport {
 public:
  static constexpr size_t kBytes = 16 * 1024;

  // A text longer than kBytes is replaced by a note saying so.
  void publish(std::string_view text);
  // The last text published, or "" when none (or the writer kept it busy through every retry).
  std::string read() const;

 private:
  std::atomic<uint64_t> sequence_{0};
  uint32_t size_ = 0;
  char text_[kBytes] = {};
};

struct Stats {
  static constexpr size_t kMaxListeners = 32;
  static constexpr size_t kMaxRoutes = 64;    // routes past this one are served but not counted
  static constexpr size_t kMaxClusters = 32;  // likewise for clusters

  Counter pid;
  Counter started_unix_ms;
  Counter connections_accepted;
  Counter connections_active;
  Counter connections_rejected;  // over a listener's max_connections
  Counter connections_idle_closed;
  Counter connections_output_overflow;  // disconnected for not reading their answers
  Counter requests;
  Counter protocol_errors;  // framing errors: the connection was closed
  Counter bytes_in;
  Counter bytes_out;
  Counter login_failures;  // logins refused for wrong credentials
  Counter access_log_lines;
  Counter access_log_dropped;  // lines lost: the disk did not keep up, or a write failed
  static constexpr size_t kErrorCodes = 11;
  std::array<Counter, kErrorCodes> errors_by_code{};          // indexed by ErrorCode
  std::array<Counter, kMaxListeners> requests_by_listener{};  // indexed by position in the config
  std::array<Counter, kMaxListeners> errors_by_listener{};
  std::array<Counter, kMaxListeners> connections_by_listener{};  // open now (a gauge), for /listeners
  std::array<TlsCounters, kMaxListeners> tls_by_listener{};      // listeners with `tls:`
  std::array<Counter, kMaxRoutes> requests_by_route{};           // indexed by position in the config
  std::array<Counter, kMaxRoutes> errors_by_route{};
  std::array<ClusterStats, kMaxClusters> clusters{};                  // indexed by position in the config
  std::array<LatencyHistogram, kMaxListeners> latency_by_listener{};  // every request
  std::array<LatencyHistogram, kMaxRoutes> latency_by_route{};
  EndpointReport endpoints;  // this worker's upstream endpoints, for GET /clusters

  // Error answers of every code.
  uint64_t errors() const {
    uint64_t sum = 0;
    for (const auto& counter : errors_by_code) sum += counter.get();
    return sum;
  }

  void count_route(size_t route, bool error) {
    if (route >= kMaxRoutes) return;
    ++requests_by_route[route];
    if (error) ++errors_by_route[route];
  }

  void count_error(ErrorCode code, size_t listener) {
    ++errors_by_code[static_cast<size_t>(code)];
    ++errors_by_listener[listener];
  }
};

// What only the master knows, written by it alone: its ZooKeeper session.
struct MasterStats {
  enum ZookeeperState : uint64_t { kNone = 0, kConnected = 1, kConnecting = 2, kExpired = 3 };
  // "connected", "connecting", ... for INFO and /stats.
  static const char* zookeeper_state_name(uint64_t state) {
    static constexpr const char* kNames[] = {"none", "connected", "connecting", "expired"};
    return state < std::size(kNames) ? kNames[state] : "unknown";
  }
  Counter pid;
  Counter started_unix_ms;
  Counter reloads;               // configurations applied by SIGHUP or POST /reload
  Counter reload_failures;       // refused: the file was invalid, or could not be applied
  Counter respawns;              // workers started again after dying
  Counter draining;              // 1 once a drain has begun
  Counter zookeeper_state;       // a ZookeeperState
  Counter zookeeper_expiries;    // sessions that expired and were replaced
  Counter zookeeper_updates;     // endpoint set changes sent to the workers
  Counter zookeeper_registered;  // this gateway's nodes in ZooKeeper now
  Counter healthcheck_failed;    // 1 while POST /healthcheck/fail holds /readyz at 503

  // Ready for calls, as the gRPC health service says it: not draining, not failed on purpose.
  bool ready() const { return draining.get() == 0 && healthcheck_failed.get() == 0; }
};

class StatsTable {
 public:
  // `slots` zeroed slots in an anonymous shared mapping that processes forked afterwards share.
  // Throws std::bad_alloc when the mapping fails (start-up only).
  static std::unique_ptr<StatsTable> create(size_t slots);
  ~StatsTable();
  StatsTable(const StatsTable&) = delete;
  StatsTable& operator=(const StatsTable&) = delete;

  size_t size() const { return slots_; }
  Stats& slot(size_t index) { return stats_[index]; }
  const Stats& slot(size_t index) const { return stats_[index]; }
  MasterStats& master() { return *master_; }
  const MasterStats& master() const { return *master_; }

  // The sum of one counter over every slot: `table.total([](const Stats& s) -> const Counter& {...})`.
  template <typename Field>
  uint64_t total(Field field) const {
    uint64_t sum = 0;
    for (size_t i = 0; i < slots_; ++i) sum += field(stats_[i]).get();
    return sum;
  }

  template <typename Pick>  // Pick: const LatencyHistogram& (const Stats&)
  HistogramTotals histogram(Pick pick) const {
    HistogramTotals totals;
    for (size_t i = 0; i < slots_; ++i) {
      const LatencyHistogram& h = pick(stats_[i]);
      for (size_t b = 0; b < totals.buckets.size(); ++b) totals.buckets[b] += h.buckets[b].get();
      totals.sum_us += h.sum_us.get();
    }
    for (uint64_t n : totals.buckets) totals.count += n;
    return totals;
  }

 private:
  StatsTable(Stats* stats, MasterStats* master, size_t slots, size_t bytes)
      : stats_(stats), master_(master), slots_(slots), bytes_(bytes) {}

  Stats* stats_;
  MasterStats* master_;
  size_t slots_;
  size_t bytes_;
};

}  // namespace rpcgate
