// Where a sharded cluster's calls go (a Redis Cluster behind one address, docs/redis-cluster.md):
// the map from shard to the endpoint that owns it, learned from the cluster itself through the
// codec's sharding seam (codecs/sharding.h) and kept fresh: at start, after a MOVED, after a
// connection failure and on a timer. The cluster's endpoints are the map's owners and its seeds.
//
// One map per cluster per worker: workers share nothing else, a refresh is one small request
// every few seconds, and a worker whose map is stale is corrected by the cluster's own MOVED.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/sharding.h"
#include "conf/config.h"
#include "core/pending_call.h"

namespace rpcgate::backends {

class Cluster;
class Endpoint;

class ShardRouter final : public CallOwner {
 public:
  // A redirect more than this many times is an answer of its own: the cluster is moving faster
  // than its map can be followed.
  static constexpr uint8_t kMaxRedirects = 5;
  // The map is asked for again this often, and never more often than kMinRefreshMs however many
  // MOVED come; a refresh that fails is tried again, on the next endpoint, after kRetryMs.
  static constexpr uint64_t kRefreshMs = 10'000;
  static constexpr uint64_t kMinRefreshMs = 100;
  static constexpr uint64_t kRetryMs = 500;

  ShardRouter(Cluster& cluster, codec::Sharding& sharding, std::vector<conf::Address> seeds);
  ~ShardRouter();
  ShardRouter(const ShardRouter&) = delete;
  ShardRouter& operator=(const ShardRouter&) = delete;

  // Asks for the map now (the first time, the commands' key positions too).
  void start();
  // Shutdown: the refresh in flight is cancelled, the timer closed.
  void close();

  // The endpoint for a request with this frame: its shard's owner, or any owner for a request
  // that names no shard (before the map is known: any endpoint). Null when that one is not usable.
  // `may_read_replica`: a request that only reads may go to a usable replica of its shard's owner,
  // when the map names replicas (a cluster with read_from: replica_preferred); not a pin's.
  Endpoint* pick(std::string_view request_frame, bool may_read_replica = false);
  // The endpoint a redirect names, added when the cluster had none by that address; after a
  // MOVED the map says so at once and is asked for again. Null for an address that cannot be
  // an endpoint.
  Endpoint* follow(const codec::ShardRedirect& redirect, const Endpoint* answered);
  // An endpoint failed: the cluster may be failing over, so the map is asked for again soon.
  void on_endpoint_failed() { refresh(); }
  // The cluster's endpoints changed: the map's owners are found again among them.
  void on_endpoints_changed();

  void on_call_done(PendingCall* call) override;

  // The masters the map names, in the order of their first shard (the same order in every worker
  // while the map is the same), with their endpoints (null: none by that address). Empty until a
  // map is known.
  struct Master {
    std::string name;
    Endpoint* endpoint = nullptr;
  };
  std::vector<Master> masters() const;

 private:
  static constexpr uint16_t kNoOwner = UINT16_MAX;

  // Asks for the map as soon as allowed; while one is in flight, once more after it.
  void refresh();
  void send_next(Endpoint* endpoint);
  void apply(const std::vector<codec::ShardRange>& ranges, const Endpoint& asked);
  // Makes the owners and the seeds the cluster's endpoints.
  void set_endpoints();
  // The owner with this address, added when new; kNoOwner past the bound.
  uint16_t owner_index(const conf::Address& address);
  void arm(uint64_t delay_ms);
  // A usable replica of owners_[owner], in turn; null when it has none.
  Endpoint* replica_of(uint16_t owner, uint64_t now);
  static void on_timer(uv_timer_t* timer);

  Cluster& cluster_;
  codec::Sharding& sharding_;
  std::vector<conf::Address> seeds_;                   // as configured
  std::vector<conf::Address> owner_addresses_;         // the endpoints the map names
  std::vector<Endpoint*> owners_;                      // the same, among the cluster's endpoints (null: none)
  std::vector<uint16_t> shard_owner_;                  // per shard, an index of owners_, or kNoOwner
  std::vector<conf::Address> replica_addresses_;       // the replicas the map names (read_from)
  std::vector<Endpoint*> replicas_;                    // the same, among the cluster's endpoints
  std::vector<std::vector<uint16_t>> owner_replicas_;  // per owner, indexes of replicas_
  size_t next_replica_ = 0;
  size_t next_any_ = 0;    // round robin for requests of no shard
  size_t next_asked_ = 0;  // round robin for the endpoint asked for the map

  PendingCall* call_ = nullptr;  // the question in flight, if any
  size_t attempt_ = 0;           // which of the map requests it is
  bool asking_commands_ = false;
  bool again_ = false;  // asked for while one was in flight
  uint64_t last_sent_ms_ = 0;
  uv_timer_t* timer_ = nullptr;  // heap: freed by its close callback, which may come after us
  bool closed_ = false;
};

}  // namespace rpcgate::backends
