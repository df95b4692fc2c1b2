#include "backends/endpoint.h"

#include <arpa/inet.h>

#include <algorithm>

#include "backends/cluster.h"
#include "backends/upstream_connection.h"
#include "gateway/log.h"
#include "gateway/pending_call.h"

namespace rpcgate::backends {
namespace {

// Reconnect backoff after failed connects: 100 ms, doubling, at most 5 s.
constexpr uint64_t kFirstBackoffMs = 100;
constexpr uint64_t kMaxBackoffMs = 5000;

}  // namespace

Endpoint::Endpoint(Cluster& cluster, const conf::Address& address)
    : cluster_(cluster), name_(address.to_string()), slots_(std::max<size_t>(1, cluster.config().max_connections)) {
  if (address.host.find(':') != std::string::npos) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&sockaddr_);
    uv_ip6_addr(address.host.c_str(), address.port, v6);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&sockaddr_);
    uv_ip4_addr(address.host.c_str(), address.port, v4);
  }
}

Endpoint::~Endpoint() = default;

bool Endpoint::usable(uint32_t affinity, uint64_t now_ms) const {
  if (checked_down_ || now_ms < ejected_until_ms_) return false;
  return slot_of(affinity).connection != nullptr || now_ms >= next_connect_ms_;
}

Endpoint::Slot* Endpoint::slot_of(const UpstreamConnection* connection) {
  for (Slot& slot : slots_)
    if (slot.connection == connection) return &slot;
  return nullptr;
}

void Endpoint::submit(PendingCall* call) {
  call->upstream.endpoint = this;
  ++pending_;
  Slot& slot = slot_of(call->upstream.affinity);
  if (slot.waiting.empty() && slot.connection != nullptr && slot.connection->has_room()) {
    slot.connection->send(call);
    return;
  }
  slot.waiting.push_back(call);
  if (slot.connection == nullptr) open_next();
}

void Endpoint::send_waiting(Slot& slot) {
  while (!slot.waiting.empty() && slot.connection != nullptr && slot.connection->has_room()) {
    PendingCall* call = slot.waiting.front();
    slot.waiting.pop_front();
    slot.connection->send(call);
  }
}

void Endpoint::open_next() {
  if (connecting_) return;
  for (Slot& slot : slots_) {
    if (slot.connection != nullptr || slot.waiting.empty()) continue;
    connecting_ = true;
    slot.connection = new UpstreamConnection(*this);
    slot.connection->connect();
    return;
  }
}

void Endpoint::withdraw_waiting(PendingCall* call) {
  for (Slot& slot : slots_) {
    auto found = std::find(slot.waiting.begin(), slot.waiting.end(), call);
    if (found == slot.waiting.end()) continue;
    slot.waiting.erase(found);
    --pending_;
    return;
  }
}

void Endpoint::orphan(PendingCall* call) {
  --pending_;
  call->upstream.connection->orphan(call);
}

void Endpoint::on_connected(UpstreamConnection* connection) {
  connecting_ = false;
  connect_failures_ = 0;
  next_connect_ms_ = 0;
  if (Slot* slot = slot_of(connection)) send_waiting(*slot);
  open_next();
}

void Endpoint::on_room(UpstreamConnection* connection) {
  if (Slot* slot = slot_of(connection)) send_waiting(*slot);
}

void Endpoint::on_answer(PendingCall* call) {
  --pending_;
  record_success();
  cluster_.on_answer(call);
}

void Endpoint::on_call_lost(PendingCall* call, bool sent, const std::string& error) {
  --pending_;
  cluster_.on_attempt_failed(call, sent, ErrorCode::kUpstreamError, "upstream " + name_ + ": " + error);
}

void Endpoint::on_connection_closed(UpstreamConnection* connection, bool was_connected, const std::string& error) {
  if (Slot* slot = slot_of(connection)) slot->connection = nullptr;
  uint64_t now = cluster_.now_ms();
  if (!was_connected) {
    connecting_ = false;
    ++connect_failures_;
    uint64_t backoff = kFirstBackoffMs << std::min(connect_failures_ - 1, 6u);
    next_connect_ms_ = now + std::min(backoff, kMaxBackoffMs);
    record_failure(error);
  } else if (error != UpstreamConnection::kAllTimedOut) {
    LOG_INFO("cluster %s: upstream %s: %s", cluster_.config().name.c_str(), name_.c_str(), error.c_str());
  }
  if (now >= next_connect_ms_) {
    open_next();
    return;
  }
  // In connect backoff: calls waiting for a connection that is not open were never sent, so
  // another endpoint may take them now rather than wait out the backoff.
  for (Slot& slot : slots_) {
    if (slot.connection != nullptr) continue;
    std::deque<PendingCall*> calls;
    calls.swap(slot.waiting);
    for (PendingCall* call : calls) {
      --pending_;
      cluster_.on_attempt_failed(call, false, ErrorCode::kUnavailable, "upstream " + name_ + ": " + error);
    }
  }
}

void Endpoint::record_success() {
  consecutive_failures_ = 0;
  // Healthy for a long while after its last ejection: the next ejection starts short again.
  uint64_t now = cluster_.now_ms();
  if (ejections_ > 0 && now > last_ejection_end_ms_ + static_cast<uint64_t>(cluster_.config().outlier.max_ejection.count()))
    ejections_ = 0;
}

void Endpoint::record_failure(const std::string& why) {
  const auto& outlier = cluster_.config().outlier;
  ++consecutive_failures_;
  auto threshold = static_cast<unsigned>(outlier.consecutive_failures);
  if (threshold == 0 || consecutive_failures_ < threshold) return;
  uint64_t now = cluster_.now_ms();
  if (now < ejected_until_ms_) return;
  auto base = static_cast<uint64_t>(outlier.base_ejection.count());
  auto cap = static_cast<uint64_t>(outlier.max_ejection.count());
  uint64_t duration = std::min(cap, base << std::min(ejections_, 20u));
  ++ejections_;
  consecutive_failures_ = 0;
  ejected_until_ms_ = last_ejection_end_ms_ = now + duration;
  LOG_WARN("cluster %s: ejecting upstream %s for %llu ms after %u failures in a row (last: %s)",
           cluster_.config().name.c_str(), name_.c_str(), static_cast<unsigned long long>(duration),
           outlier.consecutive_failures, why.c_str());
}

void Endpoint::record_check(bool passed, const std::string& why) {
  const auto& check = cluster_.config().health_check;
  if (passed != checked_down_) {
    check_streak_ = 0;  // agrees with the current state
    return;
  }
  ++check_streak_;
  auto needed = static_cast<unsigned>(passed ? check.healthy_threshold : check.unhealthy_threshold);
  if (check_streak_ < needed) return;
  checked_down_ = !passed;
  check_streak_ = 0;
  if (checked_down_)
    LOG_WARN("cluster %s: upstream %s failed %u health checks in a row (last: %s); taken out",
             cluster_.config().name.c_str(), name_.c_str(), needed, why.c_str());
  else
    LOG_INFO("cluster %s: upstream %s passed %u health checks in a row; back in",
             cluster_.config().name.c_str(), name_.c_str(), needed);
}

void Endpoint::close_all() {
  for (Slot& slot : slots_)
    if (slot.connection != nullptr) slot.connection->close("shutting down");
}

}  // namespace rpcgate::backends
