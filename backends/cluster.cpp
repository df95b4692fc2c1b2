#include "backends/cluster.h"

#include <algorithm>
#include <charconv>

#include "backends/fanout.h"
#include "backends/upstream_connection.h"
#include "backends/upstreams.h"
#include "core/log.h"

namespace rpcgate::backends {
namespace {

// A client's own deadline, from its request's metadata (protobuf `meta`, json `"meta"`): 0 when
// it has none or it does not parse.
uint64_t client_timeout_ms(const Request& request) {
  for (const auto& [key, value] : request.meta) {
    if (key != kTimeoutMetaKey) continue;
    uint64_t ms = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    return ec == std::errc() && end == value.data() + value.size() ? ms : 0;
  }
  return 0;
}

// A client's timeout rounded down to the E12 series (10, 12, 15, ... 82, then 100, 120, ...): at
// most 18% shorter than asked. Each distinct timeout is a lane of the deadline queue, so clients
// must not be able to create one per request.
uint64_t round_timeout_down(uint64_t ms) {
  if (ms < 10) return ms;
  static constexpr uint64_t kSeries[] = {10, 12, 15, 18, 22, 27, 33, 39, 47, 56, 68, 82};
  uint64_t scale = 1;
  while (ms / scale >= 100) scale *= 10;
  uint64_t mantissa = ms / scale;
  uint64_t chosen = kSeries[0];
  for (uint64_t value : kSeries)
    if (value <= mantissa) chosen = value;
  return chosen * scale;
}

}  // namespace

Cluster::Cluster(Upstreams& upstreams, const conf::ClusterConfig& config, const codec::CodecInfo& codec,
                 ClusterStats& stats)
    : upstreams_(upstreams),
      config_(config),
      codec_(codec),
      tls_context_(config.tls ? config.tls->context : nullptr),
      classifier_(codec.make_client(config.codec_options)),
      stats_(stats),
      balancer_(make_load_balancer(config.load_balancer, config.hash_key)) {
  std::vector<discovery::EndpointSpec> specs;
  for (const auto& address : config.endpoints) specs.push_back(discovery::EndpointSpec{address, 1});
  set_endpoints(specs);
  sharding_ = classifier_->sharding();
  if (sharding_ != nullptr) {
    router_ = std::make_unique<ShardRouter>(*this, *sharding_, config.endpoints);
    router_->on_endpoints_changed();
    router_->start();
  }
}

void Cluster::set_endpoints(const std::vector<discovery::EndpointSpec>& wanted) {
  auto take = [](std::vector<std::unique_ptr<Endpoint>>& from, const std::string& name) {
    for (auto& endpoint : from)
      if (endpoint && endpoint->name() == name && !endpoint->closing()) return std::move(endpoint);
    return std::unique_ptr<Endpoint>();
  };
  std::vector<std::unique_ptr<Endpoint>> next;
  std::vector<std::string> names;
  weights_.clear();
  for (const discovery::EndpointSpec& spec : wanted) {
    std::string name = spec.address.to_string();
    if (std::find(names.begin(), names.end(), name) != names.end()) continue;  // listed twice
    auto endpoint = take(endpoints_, name);
    if (!endpoint) {
      endpoint = take(retired_, name);
      if (endpoint) endpoint->revive();
    }
    if (!endpoint) endpoint = std::make_unique<Endpoint>(*this, spec.address);
    next.push_back(std::move(endpoint));
    names.push_back(std::move(name));
    weights_.push_back(std::max(1u, spec.weight));
  }
  std::erase(retired_, nullptr);
  std::vector<Endpoint*> leaving;
  for (auto& endpoint : endpoints_) {
    if (!endpoint) continue;
    leaving.push_back(endpoint.get());
    retired_.push_back(std::move(endpoint));
  }
  // The new set is in place before anything leaves: a leaving endpoint's unsent calls are placed
  // again, on the endpoints that remain.
  endpoints_ = std::move(next);
  balancer_->reset(names, weights_);
  views_.resize(endpoints_.size());
  if (router_ != nullptr) router_->on_endpoints_changed();
  for (Endpoint* endpoint : leaving) endpoint->retire();
}

std::string Cluster::no_endpoint_message() const {
  if (endpoints_.empty() && !config_.zookeeper_path.empty())
    return "cluster " + config_.name + " has no endpoints: none registered under " + config_.zookeeper_path +
           " in ZooKeeper (or none read yet)";
  // Why the last connect failed says what to fix (a refused port, a certificate that does not
  // verify), where "no healthy endpoint" alone would send the reader to the logs.
  for (const auto& endpoint : endpoints_)
    if (!endpoint->last_connect_error().empty())
      return "cluster " + config_.name + " has no healthy endpoint (last connect to " + endpoint->name() + ": " +
             endpoint->last_connect_error() + ")";
  return "cluster " + config_.name + " has no healthy endpoint";
}

void Cluster::forget(Endpoint* endpoint) {
  if (closed_) return;  // shutting down: the destructor frees it with the rest
  std::erase_if(retired_, [endpoint](const std::unique_ptr<Endpoint>& e) { return e.get() == endpoint; });
}

Cluster::~Cluster() = default;

uint64_t Cluster::now_ms() const { return upstreams_.now_ms(); }

bool Cluster::reload_tls(std::string& error) {
  if (!config_.tls) return true;
  std::shared_ptr<tls::ClientContext> fresh = tls::ClientContext::build(config_.tls->settings, codec_.alpn, error);
  if (fresh == nullptr) return false;
  tls_context_ = std::move(fresh);
  return true;
}

void Cluster::prepare(PendingCall* call, const conf::RouteConfig* route) const {
  UpstreamState& state = call->upstream;
  state.cluster = const_cast<Cluster*>(this);
  state.timeout_ms = static_cast<uint64_t>(route != nullptr && route->timeout ? route->timeout->count()
                                                                              : config_.request_timeout.count());
  // A stream lasts as long as its two ends keep it: a deadline the client asked for, or the
  // route's own timeout, ends it; else request_timeout bounds only the wait for its first answer
  // after the client's half-close (start_answer_deadline).
  state.deadline_until_answer = call->request.stream != nullptr && !(route != nullptr && route->timeout);
  if (uint64_t asked = client_timeout_ms(call->request);
      asked > 0 && (asked < state.timeout_ms || state.deadline_until_answer)) {
    state.timeout_ms = round_timeout_down(asked);
    state.deadline_until_answer = false;
  }
  state.retries_left = std::max(config_.retries, route != nullptr ? route->retries : 0);
  state.idempotent = route != nullptr && route->idempotent;
  state.deadline.owner = call;
}

void Cluster::submit(PendingCall* call) {
  ++stats_.requests;
  if (call->upstream.pin != nullptr) {
    call->upstream.fixed_endpoint = true;
    ++pending_;
    stats_.pending.set(pending_);
    call->upstream.pin->submit(call);
    return;
  }
  if (!classifier_->shareable(call->request)) {
    // Its replies would go to other clients, or its state stay with them: this cluster's
    // connections are shared. Only a RESP client gets a connection of its own.
    call->response.set_error(ErrorCode::kBadRequest, "'" + call->request.method.substr(0, 64) +
                                                         "' needs an upstream connection of the client's own, "
                                                         "which only clients of a resp listener get");
    call->done = true;
    return;
  }
  if (router_ != nullptr && call->upstream.passthrough) {
    // A sharded cluster's call may be redirected after its reply took `wire`: its frame is kept.
    call->upstream.resend = call->upstream.wire;
    if (split(call) || spread(call)) return;
  }
  start(call);
}

void Cluster::submit_part(PendingCall* part, Endpoint* target) {
  if (target == nullptr) {
    part->upstream.resend = part->upstream.wire;
    start(part);
    return;
  }
  // Another master's answer would count another master's keys: this one, not redirected (no
  // resend) and not placed again elsewhere.
  part->upstream.fixed_endpoint = true;
  if (refused_as_overloaded(part)) return;
  if (!target->usable(now_ms())) {
    const std::string& why = target->last_connect_error();
    part->response.set_error(ErrorCode::kUnavailable, "cluster " + config_.name + ": master " + target->name() +
                                                          " is not usable" + (why.empty() ? "" : " (" + why + ")"));
    part->done = true;
    router_->on_endpoint_failed();  // a failover may have replaced it
    return;
  }
  ++pending_;
  stats_.pending.set(pending_);
  upstreams_.deadlines().add(&part->upstream.deadline, part->upstream.timeout_ms);
  target->submit(part);
}

bool Cluster::split(PendingCall* call) {
  split_parts_.clear();
  split_shards_.clear();
  if (!sharding_->split(call->upstream.wire, split_parts_, split_shards_)) return false;
  if (pending_ >= config_.max_pending) return false;  // start() refuses it whole
  ++pending_;
  stats_.pending.set(pending_);
  auto* fanout = new Fanout(*this, call, std::move(split_parts_));
  call->upstream.fanout = fanout;
  fanout->start();
  return true;
}

bool Cluster::spread(PendingCall* call) {
  codec::WholeKeyspace* keyspace = sharding_->whole_keyspace();
  // Asked of every request: the masters (with their names) are listed only for one it concerns.
  if (keyspace == nullptr || !keyspace->about_whole_keyspace(call->upstream.wire)) return false;
  const std::vector<ShardRouter::Master> masters = router_->masters();
  codec::WholeKeyspace::Plan plan = keyspace->plan(call->upstream.wire, masters.size());
  if (plan.spread == codec::WholeKeyspace::Spread::kNone) return false;
  const bool placed = std::all_of(masters.begin(), masters.end(),
                                  [](const ShardRouter::Master& master) { return master.endpoint != nullptr; });
  if (masters.empty() || !placed) {
    // Any one node would answer for its own share only, as if it were the whole.
    call->response.set_error(ErrorCode::kUnavailable,
                             "cluster " + config_.name + ": " +
                                 (masters.empty() ? "no slot map yet" : "a master has no endpoint yet") +
                                 ", and this command is about every master");
    call->done = true;
    return true;
  }
  if (pending_ >= config_.max_pending) return false;  // start() refuses it whole
  Fanout::Spread spread;
  std::vector<std::string> parts;
  for (const ShardRouter::Master& master : masters) spread.owners.push_back(master.name);
  if (plan.spread == codec::WholeKeyspace::Spread::kOne) {
    parts.push_back(std::move(plan.frame));
    spread.targets.push_back(masters[plan.owner].endpoint);
  } else {
    for (const ShardRouter::Master& master : masters) {
      parts.push_back(call->upstream.wire);
      spread.targets.push_back(master.endpoint);
    }
  }
  ++pending_;
  stats_.pending.set(pending_);
  auto* fanout = new Fanout(*this, call, std::move(parts), std::move(spread));
  call->upstream.fanout = fanout;
  fanout->start();
  return true;
}

void Cluster::finish_whole(PendingCall* whole, const Response* failure, bool notify) {
  if (failure != nullptr) {
    whole->response = *failure;
    whole->response.id = whole->request.id;
    whole->upstream.passthrough = false;  // the error is encoded by the client's codec
  }                                       // else its parts' answers were counted
  --pending_;
  stats_.pending.set(pending_);
  whole->done = true;
  if (notify) whole->owner->on_call_done(whole);
}

bool Cluster::refused_as_overloaded(PendingCall* call) {
  if (pending_ < config_.max_pending) return false;
  call->response.set_error(ErrorCode::kOverloaded, "cluster " + config_.name + " has " + std::to_string(pending_) +
                                                       " requests pending (max_pending)");
  call->done = true;
  return true;
}

void Cluster::start(PendingCall* call) {
  if (refused_as_overloaded(call)) return;
  if (!place(call, nullptr)) {
    call->response.set_error(ErrorCode::kUnavailable, no_endpoint_message());
    call->done = true;
    return;
  }
  ++pending_;
  stats_.pending.set(pending_);
}

void Cluster::submit_health_check(Endpoint& endpoint, PendingCall* call) {
  ++stats_.health_checks;
  submit_own(endpoint, call);
}

void Cluster::submit_own(Endpoint& endpoint, PendingCall* call) {
  call->upstream.fixed_endpoint = true;
  call->upstream.health_check = true;
  ++pending_;
  stats_.pending.set(pending_);
  upstreams_.deadlines().add(&call->upstream.deadline, call->upstream.timeout_ms);
  endpoint.submit(call);
}

Endpoint* Cluster::pick(const Request& request, Endpoint* avoid) {
  uint64_t now = now_ms();
  size_t avoid_index = LoadBalancer::kNone;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    views_[i] = EndpointView{endpoints_[i]->usable(now), endpoints_[i]->pending()};
    if (endpoints_[i].get() == avoid) avoid_index = i;
  }
  size_t chosen = balancer_->pick(request, views_, avoid_index);
  return chosen == LoadBalancer::kNone ? nullptr : endpoints_[chosen].get();
}

Endpoint* Cluster::pick_shard(const Request& request, std::string_view frame, bool may_read_replica) {
  if (frame.empty()) {
    frame_scratch_.clear();
    classifier_->encode(request, frame_scratch_);
    frame = frame_scratch_;
  }
  return router_->pick(frame, may_read_replica);
}

bool Cluster::place(PendingCall* call, Endpoint* avoid) {
  // A sharded cluster has one right endpoint for a call: `avoid` cannot be honoured.
  Endpoint* endpoint =
      router_ != nullptr
          ? pick_shard(call->request,
                       call->upstream.passthrough ? std::string_view(call->upstream.wire) : std::string_view(), true)
          : pick(call->request, avoid);
  if (endpoint == nullptr) return false;
  if (!call->upstream.deadline_until_answer)
    upstreams_.deadlines().add(&call->upstream.deadline, call->upstream.timeout_ms);
  endpoint->submit(call);
  return true;
}

std::unique_ptr<Pin> Cluster::open_pin(const Request& request, std::string_view frame, CallOwner& owner,
                                       bool wait_for_earlier, std::vector<std::string> preamble, ErrorCode& code,
                                       std::string& error) {
  // A sharded cluster pins a client to the owner of its first pinned command's first key.
  Endpoint* endpoint = router_ != nullptr ? pick_shard(request, frame) : pick(request, nullptr);
  if (endpoint == nullptr) {
    code = ErrorCode::kUnavailable;
    error = no_endpoint_message();
    return nullptr;
  }
  if (!endpoint->take_pin_slot()) {
    code = ErrorCode::kOverloaded;
    error = "cluster " + config_.name + ": " + std::to_string(config_.max_pinned) +
            " clients already have a connection of their own to " + endpoint->name() + " (max_pinned)";
    return nullptr;
  }
  return std::make_unique<Pin>(*this, *endpoint, owner, wait_for_earlier, std::move(preamble));
}

void Cluster::start_answer_deadline(PendingCall* call) {
  UpstreamState& state = call->upstream;
  if (state.deadline_until_answer && !state.deadline.linked())
    upstreams_.deadlines().add(&state.deadline, state.timeout_ms);
}

void Cluster::on_first_answer(PendingCall* call) {
  if (!call->upstream.deadline_until_answer) return;
  call->upstream.deadline_until_answer = false;
  upstreams_.deadlines().remove(&call->upstream.deadline);
}

void Cluster::on_answer(PendingCall* call) {
  if (router_ != nullptr && call->upstream.passthrough && !call->upstream.resend.empty() && follow_redirect(call))
    return;
  // Health checks count apart: requests and answers are the clients'.
  if (!call->upstream.health_check) ++stats_.answers;
  finish(call);
}

bool Cluster::follow_redirect(PendingCall* call) {
  UpstreamState& state = call->upstream;
  const codec::ShardRedirect redirect = sharding_->redirect(state.wire);
  if (redirect.kind == codec::ShardRedirect::Kind::kNone) return false;
  Endpoint* answered = state.endpoint;
  upstreams_.deadlines().remove(&state.deadline);
  state.endpoint = nullptr;
  const bool ask = redirect.kind == codec::ShardRedirect::Kind::kAsk;
  const std::string what = std::string(ask ? "ASK" : "MOVED") + " to slot " + std::to_string(redirect.shard) + " on " +
                           redirect.host + ":" + std::to_string(redirect.port);
  if (state.redirects >= ShardRouter::kMaxRedirects) {
    fail(call, ErrorCode::kUnavailable,
         "cluster " + config_.name + ": redirected " + std::to_string(state.redirects) + " times, the last " + what +
             " (the cluster is resharding faster "
             "than its map can be followed)");
    return true;
  }
  ++state.redirects;
  Endpoint* target = router_->follow(redirect, answered);
  if (target == nullptr) {
    fail(call, ErrorCode::kUnavailable, "cluster " + config_.name + ": " + what + ", an address no endpoint can have");
    return true;
  }
  LOG_DEBUG("cluster %s: '%s' follows %s", config_.name.c_str(), call->request.method.c_str(), what.c_str());
  state.wire = state.resend;
  state.preface = ask ? sharding_->ask_preface() : std::string_view();
  upstreams_.deadlines().add(&state.deadline, state.timeout_ms);
  target->submit(call);
  return true;
}

void Cluster::on_attempt_failed(PendingCall* call, bool sent, ErrorCode code, const std::string& message) {
  UpstreamState& state = call->upstream;
  if (router_ != nullptr && !state.health_check) router_->on_endpoint_failed();
  Endpoint* failed = state.endpoint;
  upstreams_.deadlines().remove(&state.deadline);
  state.endpoint = nullptr;
  if (closed_ || state.fixed_endpoint) {
    fail(call, code, message);
    return;
  }
  if (call->request.stream != nullptr) {
    // A lost connection is UNAVAILABLE to a streaming client, as gRPC's own clients say; and a
    // call whose client has sent more than could be kept is never placed again.
    if (code == ErrorCode::kUpstreamError) code = ErrorCode::kUnavailable;
    if (!call->request.stream->may_replay()) {
      fail(call, code, message);
      return;
    }
  }
  // A request never sent may go anywhere; one that may have reached the upstream only when the
  // route says doing it twice is harmless, and within the retry budget. A refused one was never
  // acted on either, but a server that refuses every call would have it placed again, one round
  // trip apart, until its deadline: refusals have a budget of their own.
  if (!sent && state.refusals > kMaxRefusals) {
    fail(call, ErrorCode::kUnavailable, message + " (refused " + std::to_string(state.refusals) + " times)");
    return;
  }
  if (sent) {
    if (!state.idempotent || state.retries_left <= 0) {
      fail(call, code, message);
      return;
    }
    --state.retries_left;
    ++stats_.retries;
    LOG_DEBUG("cluster %s: retrying '%s' after: %s", config_.name.c_str(), call->request.method.c_str(),
              message.c_str());
  } else {
    LOG_DEBUG("cluster %s: placing '%s' again, never acted on: %s", config_.name.c_str(), call->request.method.c_str(),
              message.c_str());
  }
  if (!place(call, failed)) fail(call, sent ? code : ErrorCode::kUnavailable, message);
}

void Cluster::on_deadline(PendingCall* call) {
  UpstreamState& state = call->upstream;
  Endpoint* endpoint = state.endpoint;
  std::string message = "cluster " + config_.name + (endpoint != nullptr ? " (" + endpoint->name() + ")" : "") +
                        ": no answer within " + std::to_string(state.timeout_ms) + " ms";
  if (state.connection == nullptr) {
    // Still waiting for a connection: it never reached the upstream. Say why, if a connect failed.
    if (endpoint != nullptr) {
      endpoint->withdraw_waiting(call);
      if (!endpoint->last_connect_error().empty())
        message = "cluster " + config_.name + " (" + endpoint->name() + "): no connection within " +
                  std::to_string(state.timeout_ms) + " ms: " + endpoint->last_connect_error();
    }
    state.endpoint = nullptr;
    fail(call, ErrorCode::kTimeout, message);
    return;
  }
  ++stats_.timeouts;
  endpoint->record_failure(message);
  endpoint->orphan(call, true);
  on_attempt_failed(call, true, ErrorCode::kTimeout, message);
}

void Cluster::cancel(PendingCall* call) {
  UpstreamState& state = call->upstream;
  upstreams_.deadlines().remove(&state.deadline);
  if (state.fanout != nullptr)
    state.fanout->cancel();
  else if (state.pin != nullptr)
    state.pin->cancel(call);
  else if (state.connection != nullptr)
    state.endpoint->orphan(call, false);
  else if (state.endpoint != nullptr)
    state.endpoint->withdraw_waiting(call);
  --pending_;  // a call the owner still holds unfinished was counted by submit()
  stats_.pending.set(pending_);
}

void Cluster::fail(PendingCall* call, ErrorCode code, const std::string& message) {
  call->response.clear();
  call->response.id = call->request.id;
  call->response.set_error(code, message);
  call->upstream.passthrough = false;  // the error is encoded by the client's codec
  finish(call);
}

void Cluster::finish(PendingCall* call) {
  upstreams_.deadlines().remove(&call->upstream.deadline);
  call->upstream.answered_by = call->upstream.endpoint;
  call->upstream.endpoint = nullptr;
  call->upstream.connection = nullptr;
  --pending_;
  stats_.pending.set(pending_);
  call->done = true;
  call->owner->on_call_done(call);
}

void Cluster::close() {
  closed_ = true;
  if (router_ != nullptr) router_->close();
  for (auto& endpoint : endpoints_) endpoint->close_all();
  for (auto& endpoint : retired_)
    if (!endpoint->closing()) endpoint->close_all();
}

}  // namespace rpcgate::backends
