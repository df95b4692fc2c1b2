// An upstream cluster in one worker: its endpoints, its balancer, and the life of every call sent
// to it: a deadline per attempt, retries on another endpoint, the bound on pending calls, and the
// answers handed back to the call's owner. A call's owner hears of it exactly once, through
// on_call_done, unless the call finished during submit().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/endpoint.h"
#include "backends/load_balancer.h"
#include "backends/pin.h"
#include "backends/shard_router.h"
#include "codecs/codec.h"
#include "conf/config.h"
#include "core/pending_call.h"
#include "core/stats.h"
#include "discovery/endpoint_spec.h"

namespace rpcgate::backends {

class Upstreams;

class Cluster {
 public:
  Cluster(Upstreams& upstreams, const conf::ClusterConfig& config, const codec::CodecInfo& codec, ClusterStats& stats);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const conf::ClusterConfig& config() const { return config_; }
  const codec::CodecInfo& codec() const { return codec_; }
  // The TLS context a new upstream connection starts with; null for a plain cluster. A reload
  // that changed only certificate files replaces it (reload_tls: false, with `error`, keeps it).
  const std::shared_ptr<tls::ClientContext>& tls_context() const { return tls_context_; }
  bool reload_tls(std::string& error);
  // Its connections serve requests side by side (HTTP/2, ClientCodec::multiplexed): another one
  // is worth opening only when those open are full.
  bool multiplexed() const { return classifier_->multiplexed(); }
  // Its codec passes streamed calls (Request::stream; codecs/codec.h ClientStreams).
  bool streams() const { return classifier_->streams() != nullptr; }
  // Whether choosing an endpoint reads a call's params: a consistent hash on a key. (A sharded
  // cluster finds a forwarded call's key in its frame.)
  bool reads_params() const { return balancer_->reads_params(); }
  Upstreams& upstreams() { return upstreams_; }
  ClusterStats& stats() { return stats_; }
  uint64_t now_ms() const;
  // The endpoints the balancer chooses among, and their weights (same order).
  std::vector<std::unique_ptr<Endpoint>>& endpoints() { return endpoints_; }
  const std::vector<unsigned>& weights() const { return weights_; }
  // Removed by discovery, still finishing their calls.
  const std::vector<std::unique_ptr<Endpoint>>& retired() const { return retired_; }

  // Makes `wanted` the endpoint set (discovery). Endpoints kept keep their connections and state;
  // new ones start at once; removed ones are retired (Endpoint::retire) and freed once idle.
  void set_endpoints(const std::vector<discovery::EndpointSpec>& wanted);
  // A retired endpoint has closed: frees it.
  void forget(Endpoint* endpoint);

  // Fills the call's upstream state for `route` (null: the cluster's own settings).
  void prepare(PendingCall* call, const conf::RouteConfig* route) const;
  // Starts a call. When it cannot start (OVERLOADED, UNAVAILABLE) it finishes at once: call->done
  // is set on return and the owner is not notified. Otherwise the owner hears later.
  void submit(PendingCall* call);
  // Sends `call` to `endpoint` whatever its health, with no retry: an active health check.
  void submit_health_check(Endpoint& endpoint, PendingCall* call);
  // The same for a question of rpcgate's own that is no health check (a sharded cluster's map).
  void submit_own(Endpoint& endpoint, PendingCall* call);
  // A sharded cluster's split request (Fanout): one of its parts, placed as a call of its own,
  // and the whole once its parts are answered: `failure` set, the whole fails with it; else
  // its wire holds the merged reply. `notify`: false while submit() of the whole is running.
  codec::Sharding* sharding() { return sharding_; }
  // `target`: the part is for that endpoint only (a whole-keyspace request's), and fails at once
  // when it is not usable; null: placed by its shard.
  void submit_part(PendingCall* part, Endpoint* target);
  void finish_whole(PendingCall* whole, const Response* failure, bool notify);
  // A connection of `owner`'s own, on the endpoint the balancer picks for `request` (a sharded
  // cluster: the shard of the first key of `frame`, the request as forwarded, or of `request`
  // encoded when `frame` is empty). Null, with
  // `code` and `error` set, when no endpoint is usable or its max_pinned are open. Calls whose
  // upstream.pin is set go to it, with no deadline and no retry: the client owns that session.
  // `preamble` is sent first on it, its replies dropped (Pin).
  std::unique_ptr<Pin> open_pin(const Request& request, std::string_view frame, CallOwner& owner, bool wait_for_earlier,
                                std::vector<std::string> preamble, ErrorCode& code, std::string& error);
  // The owner is going: unlinks the call wherever it is (its deadline, its endpoint, connection
  // or pin), so that nothing here points to it; the owner then frees it.
  void cancel(PendingCall* call);

  // From endpoints and connections.
  void on_answer(PendingCall* call);
  // A streamed call (UpstreamState::deadline_until_answer): its client has half-closed and it is
  // on a connection, so the wait for the upstream's first answer is bounded from now; and the
  // upstream has begun to answer, so that bound goes.
  void start_answer_deadline(PendingCall* call);
  void on_first_answer(PendingCall* call);
  // The call failed on its endpoint. `sent`: it may have reached the upstream, so only an
  // idempotent call is sent again; one never sent always may be, except one refused more than
  // kMaxRefusals times (UpstreamState::refusals).
  void on_attempt_failed(PendingCall* call, bool sent, ErrorCode code, const std::string& message);
  static constexpr int kMaxRefusals = 3;
  void on_deadline(PendingCall* call);
  // Closes every connection, for shutdown.
  void close();

 private:
  // The endpoint the balancer picks for `request`, or null when none is usable.
  Endpoint* pick(const Request& request, Endpoint* avoid);
  // Places the call on an endpoint chosen by the balancer; false when none is usable.
  bool place(PendingCall* call, Endpoint* avoid);
  // After the checks of a client's request: counted as pending and placed, or finished at once.
  void start(PendingCall* call);
  // At max_pending: the call is answered OVERLOADED (done), and true.
  bool refused_as_overloaded(PendingCall* call);
  // A sharded cluster's request whose keys span shards and that its protocol splits: true once
  // its parts are out (Fanout).
  bool split(PendingCall* call);
  // A sharded cluster's request about the whole keyspace (codecs/whole_keyspace.h): true once its
  // parts are out to the masters, or once it failed at once (no map yet).
  bool spread(PendingCall* call);
  // A sharded cluster's: the endpoint that owns `request`'s shard (ShardRouter).
  // `may_read_replica`: a call on a shared connection may read from a replica (read_from).
  Endpoint* pick_shard(const Request& request, std::string_view frame, bool may_read_replica = false);
  // A sharded cluster's answer that sends its call elsewhere (MOVED, ASK): true when the call was
  // sent there, or failed after too many redirects; false for any other answer.
  bool follow_redirect(PendingCall* call);
  void finish(PendingCall* call);
  void fail(PendingCall* call, ErrorCode code, const std::string& message);
  void add_timeout_meta(PendingCall* call) const;
  std::string no_endpoint_message() const;

  Upstreams& upstreams_;
  const conf::ClusterConfig& config_;
  const codec::CodecInfo& codec_;
  std::shared_ptr<tls::ClientContext> tls_context_;
  // Tells which requests a shared connection may carry (ClientCodec::shareable).
  std::unique_ptr<codec::ClientCodec> classifier_;
  ClusterStats& stats_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::vector<unsigned> weights_;
  std::vector<std::unique_ptr<Endpoint>> retired_;
  std::unique_ptr<LoadBalancer> balancer_;
  std::vector<EndpointView> views_;  // reused by every pick
  // A sharded cluster (its codec's ClientCodec::sharding()): the router picks, not the balancer.
  codec::Sharding* sharding_ = nullptr;
  std::unique_ptr<ShardRouter> router_;
  std::string frame_scratch_;  // a re-encoded request's frame, to find its shard
  std::vector<std::string> split_parts_;
  std::vector<uint32_t> split_shards_;
  size_t pending_ = 0;  // calls submitted and not finished
  bool closed_ = false;
};

}  // namespace rpcgate::backends
