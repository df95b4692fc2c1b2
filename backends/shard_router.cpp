#include "backends/shard_router.h"

#include <algorithm>
#include <optional>

#include "backends/cluster.h"
#include "backends/upstreams.h"
#include "conf/scalars.h"
#include "core/log.h"

namespace rpcgate::backends {
namespace {

// An address as the cluster names it, when it is one an endpoint can have (an IP literal).
std::optional<conf::Address> address_of(const std::string& host, uint16_t port) {
  return conf::parse_address(conf::Address{host, port}.to_string());
}

}  // namespace

ShardRouter::ShardRouter(Cluster& cluster, codec::Sharding& sharding, std::vector<conf::Address> seeds)
    : cluster_(cluster), sharding_(sharding), seeds_(std::move(seeds)), shard_owner_(sharding.shards(), kNoOwner) {
  timer_ = new uv_timer_t;
  uv_timer_init(cluster_.upstreams().loop(), timer_);
  timer_->data = this;
}

ShardRouter::~ShardRouter() { close(); }

void ShardRouter::close() {
  if (closed_) return;
  closed_ = true;
  if (call_ != nullptr) {
    cluster_.cancel(call_);
    free_call(call_);
    call_ = nullptr;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); });
  timer_ = nullptr;
}

void ShardRouter::start() { refresh(); }

Endpoint* ShardRouter::pick(std::string_view request_frame, bool may_read_replica) {
  const uint64_t now = cluster_.now_ms();
  const uint32_t shard = sharding_.shard(request_frame);
  if (shard != codec::Sharding::kAnyShard && shard_owner_[shard] != kNoOwner) {
    const uint16_t index = shard_owner_[shard];
    Endpoint* owner = owners_[index];
    const bool usable = owner != nullptr && owner->usable(now);
    if (!usable) refresh();  // its owner is down: a failover may have moved it
    // A read a replica may serve goes there; else to the master, as it does when none is usable.
    if (may_read_replica && index < owner_replicas_.size() && !owner_replicas_[index].empty() &&
        sharding_.last_read_only())
      if (Endpoint* replica = replica_of(index, now)) return replica;
    return usable ? owner : nullptr;
  }
  // No shard, or one the map does not place: any owner answers (its own error, or a MOVED that
  // is followed). Before the map is known, any endpoint.
  const bool known = !owners_.empty();
  const auto& endpoints = cluster_.endpoints();
  const size_t count = known ? owners_.size() : endpoints.size();
  for (size_t tried = 0; tried < count; ++tried) {
    const size_t i = next_any_++ % count;
    Endpoint* candidate = known ? owners_[i] : endpoints[i].get();
    if (candidate != nullptr && candidate->usable(now)) return candidate;
  }
  return nullptr;
}

Endpoint* ShardRouter::follow(const codec::ShardRedirect& redirect, const Endpoint* answered) {
  const std::string host = redirect.host.empty() && answered != nullptr ? answered->host() : redirect.host;
  std::optional<conf::Address> address = address_of(host, redirect.port);
  if (!address) return nullptr;
  const std::string name = address->to_string();
  if (redirect.kind == codec::ShardRedirect::Kind::kMoved && redirect.shard < shard_owner_.size()) {
    const uint16_t index = owner_index(*address);
    if (index == kNoOwner) return nullptr;
    shard_owner_[redirect.shard] = index;
    if (owners_[index] == nullptr) set_endpoints();
    refresh();
    return owners_[index];
  }
  for (const auto& endpoint : cluster_.endpoints())
    if (endpoint->name() == name) return endpoint.get();
  // An ASK to a node the cluster has no endpoint for: it becomes one, until the next map says
  // who the owners are.
  owner_addresses_.push_back(*address);
  owners_.push_back(nullptr);
  set_endpoints();
  for (const auto& endpoint : cluster_.endpoints())
    if (endpoint->name() == name) return endpoint.get();
  return nullptr;
}

Endpoint* ShardRouter::replica_of(uint16_t owner, uint64_t now) {
  const std::vector<uint16_t>& replicas = owner_replicas_[owner];
  for (size_t tried = 0; tried < replicas.size(); ++tried) {
    Endpoint* candidate = replicas_[replicas[next_replica_++ % replicas.size()]];
    if (candidate != nullptr && candidate->usable(now)) return candidate;
  }
  return nullptr;
}

uint16_t ShardRouter::owner_index(const conf::Address& address) {
  for (size_t i = 0; i < owner_addresses_.size(); ++i)
    if (owner_addresses_[i] == address) return static_cast<uint16_t>(i);
  // At most one owner per shard: more would be a map no cluster has.
  if (owner_addresses_.size() >= std::min<size_t>(sharding_.shards(), kNoOwner)) return kNoOwner;
  owner_addresses_.push_back(address);
  owners_.push_back(nullptr);
  return static_cast<uint16_t>(owner_addresses_.size() - 1);
}

void ShardRouter::set_endpoints() {
  std::vector<discovery::EndpointSpec> specs;
  for (const conf::Address& address : owner_addresses_) specs.push_back(discovery::EndpointSpec{address, 1});
  for (const conf::Address& address : replica_addresses_) specs.push_back(discovery::EndpointSpec{address, 1});
  // The seeds stay: when every owner the map named is gone, they are where a new map is asked.
  for (const conf::Address& address : seeds_) specs.push_back(discovery::EndpointSpec{address, 1});
  cluster_.set_endpoints(specs);  // calls on_endpoints_changed()
}

void ShardRouter::on_endpoints_changed() {
  auto find = [this](const std::vector<conf::Address>& addresses, std::vector<Endpoint*>& found) {
    found.assign(addresses.size(), nullptr);
    for (size_t i = 0; i < addresses.size(); ++i) {
      const std::string name = addresses[i].to_string();
      for (const auto& endpoint : cluster_.endpoints())
        if (endpoint->name() == name) found[i] = endpoint.get();
    }
  };
  find(owner_addresses_, owners_);
  find(replica_addresses_, replicas_);
}

void ShardRouter::apply(const std::vector<codec::ShardRange>& ranges, const Endpoint& asked) {
  std::vector<conf::Address> addresses;
  std::vector<uint16_t> shard_owner(sharding_.shards(), kNoOwner);
  std::vector<conf::Address> replica_addresses;
  std::vector<std::vector<uint16_t>> owner_replicas;
  for (const codec::ShardRange& range : ranges) {
    std::optional<conf::Address> address = address_of(range.host.empty() ? asked.host() : range.host, range.port);
    if (!address) {
      LOG_WARN("cluster %s: the slot map names %s:%u, which is not an IP address; its slots go anywhere",
               cluster_.config().name.c_str(), range.host.c_str(), static_cast<unsigned>(range.port));
      continue;
    }
    auto found = std::find(addresses.begin(), addresses.end(), *address);
    const auto index = static_cast<uint16_t>(found - addresses.begin());
    if (found == addresses.end()) {
      addresses.push_back(*address);
      owner_replicas.emplace_back();
      // A master's replicas, once: every range of it lists the same ones.
      for (const codec::ShardRange::Replica& replica : range.replicas) {
        std::optional<conf::Address> at = address_of(replica.host, replica.port);
        if (!at || std::find(addresses.begin(), addresses.end(), *at) != addresses.end()) continue;
        auto known = std::find(replica_addresses.begin(), replica_addresses.end(), *at);
        owner_replicas.back().push_back(static_cast<uint16_t>(known - replica_addresses.begin()));
        if (known == replica_addresses.end()) replica_addresses.push_back(*at);
      }
    }
    for (uint32_t shard = range.first; shard <= range.last && shard < shard_owner.size(); ++shard)
      shard_owner[shard] = index;
  }
  replica_addresses_ = std::move(replica_addresses);
  owner_replicas_ = std::move(owner_replicas);
  if (addresses != owner_addresses_)
    LOG_INFO("cluster %s: the slot map from %s has %zu masters", cluster_.config().name.c_str(), asked.name().c_str(),
             addresses.size());
  owner_addresses_ = std::move(addresses);
  shard_owner_ = std::move(shard_owner);
  set_endpoints();
}

void ShardRouter::refresh() {
  if (closed_) return;
  if (call_ != nullptr) {
    again_ = true;
    return;
  }
  const uint64_t now = cluster_.now_ms();
  if (last_sent_ms_ != 0 && now < last_sent_ms_ + kMinRefreshMs) {
    arm(last_sent_ms_ + kMinRefreshMs - now);
    return;
  }
  // The endpoints in turn, usable ones first: a map asked of a node that is down never comes.
  const auto& endpoints = cluster_.endpoints();
  if (endpoints.empty()) return;
  Endpoint* chosen = nullptr;
  for (size_t tried = 0; tried < endpoints.size() && chosen == nullptr; ++tried) {
    Endpoint* candidate = endpoints[next_asked_++ % endpoints.size()].get();
    if (candidate->usable(now)) chosen = candidate;
  }
  if (chosen == nullptr) chosen = endpoints[next_asked_++ % endpoints.size()].get();
  asking_commands_ = !sharding_.knows_commands();
  attempt_ = 0;
  send_next(chosen);
}

void ShardRouter::send_next(Endpoint* endpoint) {
  last_sent_ms_ = cluster_.now_ms();
  call_ = new_call(this);
  cluster_.prepare(call_, nullptr);
  call_->request.method = asking_commands_ ? "command" : "cluster";
  call_->upstream.passthrough = true;
  call_->upstream.wire =
      asking_commands_ ? std::string(sharding_.commands_request()) : sharding_.map_requests()[attempt_];
  cluster_.submit_own(*endpoint, call_);
}

void ShardRouter::on_call_done(PendingCall* call) {
  call_ = nullptr;
  Endpoint* asked = const_cast<Endpoint*>(call->upstream.answered_by);
  const std::string& name = cluster_.config().name;
  std::string error;
  bool next = false;  // the next question follows on the same endpoint
  if (!call->upstream.passthrough || asked == nullptr) {
    LOG_WARN("cluster %s: asking for the slot map: %s", name.c_str(), call->response.message.c_str());
  } else if (asking_commands_) {
    if (!sharding_.read_commands(call->upstream.wire, error))
      LOG_WARN(
          "cluster %s: %s does not tell the commands' keys (%s); every command goes to any master, "
          "and MOVED corrects it",
          name.c_str(), asked->name().c_str(), error.c_str());
    asking_commands_ = false;
    next = true;
  } else {
    std::vector<codec::ShardRange> ranges;
    if (sharding_.read_map(attempt_, call->upstream.wire, ranges, error)) {
      apply(ranges, *asked);
    } else if (attempt_ + 1 < sharding_.map_requests().size()) {
      ++attempt_;  // an older server: the older question
      next = true;
    } else {
      LOG_WARN("cluster %s: %s gave no slot map: %s", name.c_str(), asked->name().c_str(), error.c_str());
    }
  }
  const bool failed = !next && (asked == nullptr || !call->upstream.passthrough || !error.empty());
  free_call(call);
  if (closed_) return;
  if (next && asked != nullptr) {
    send_next(asked);
    return;
  }
  if (again_) {
    again_ = false;
    refresh();
    return;
  }
  arm(failed ? kRetryMs : kRefreshMs);
}

void ShardRouter::arm(uint64_t delay_ms) {
  if (timer_ != nullptr) uv_timer_start(timer_, &ShardRouter::on_timer, delay_ms, 0);
}

void ShardRouter::on_timer(uv_timer_t* timer) { static_cast<ShardRouter*>(timer->data)->refresh(); }

std::vector<ShardRouter::Master> ShardRouter::masters() const {
  std::vector<Master> masters;
  std::vector<bool> seen(owner_addresses_.size(), false);
  for (uint16_t owner : shard_owner_) {
    if (owner == kNoOwner || seen[owner]) continue;
    seen[owner] = true;
    masters.push_back(Master{owner_addresses_[owner].to_string(), owner < owners_.size() ? owners_[owner] : nullptr});
  }
  return masters;
}

}  // namespace rpcgate::backends
