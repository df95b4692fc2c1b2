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
    : cluster_(cluster), name_(address.to_string()) {
  if (address.host.find(':') != std::string::npos) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&sockaddr_);
    uv_ip6_addr(address.host.c_str(), address.port, v6);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&sockaddr_);
    uv_ip4_addr(address.host.c_str(), address.port, v4);
  }
}

Endpoint::~Endpoint() = default;

bool Endpoint::usable(uint64_t now_ms) const {
  if (checked_down_ || now_ms < ejected_until_ms_) return false;
  return !connections_.empty() || now_ms >= next_connect_ms_;
}

UpstreamConnection* Endpoint::connection_with_room() const {
  UpstreamConnection* best = nullptr;
  for (UpstreamConnection* connection : connections_)
    if (connection->has_room() && (best == nullptr || connection->load() < best->load())) best = connection;
  return best;
}

void Endpoint::submit(PendingCall* call) {
  call->upstream.endpoint = this;
  ++pending_;
  UpstreamConnection* connection = connection_with_room();
  // No idle connection: the pool may grow, one connect at a time, while this call is pipelined
  // on a busy connection or waits for the new one.
  if (connection == nullptr || connection->load() > 0) maybe_open_connection();
  if (connection != nullptr && waiting_.empty()) {
    connection->send(call);
    return;
  }
  waiting_.push_back(call);
  place_waiting();
}

void Endpoint::orphan(PendingCall* call) {
  --pending_;
  call->upstream.connection->orphan(call);
}

void Endpoint::maybe_open_connection() {
  if (connecting_ || connections_.size() >= cluster_.config().max_connections) return;
  connecting_ = true;
  auto* connection = new UpstreamConnection(*this);
  connections_.push_back(connection);
  connection->connect();
}

void Endpoint::place_waiting() {
  while (!waiting_.empty()) {
    UpstreamConnection* connection = connection_with_room();
    if (connection == nullptr) return;
    PendingCall* call = waiting_.front();
    waiting_.pop_front();
    connection->send(call);
  }
}

void Endpoint::withdraw_waiting(PendingCall* call) {
  auto found = std::find(waiting_.begin(), waiting_.end(), call);
  if (found == waiting_.end()) return;
  waiting_.erase(found);
  --pending_;
}

void Endpoint::on_connected(UpstreamConnection*) {
  connecting_ = false;
  connect_failures_ = 0;
  next_connect_ms_ = 0;
  place_waiting();
  // Still more waiting than one connection takes: grow the pool by one more.
  if (!waiting_.empty()) maybe_open_connection();
}

void Endpoint::on_room(UpstreamConnection*) { place_waiting(); }

void Endpoint::on_answer(PendingCall* call) {
  --pending_;
  record_success();
  cluster_.on_answer(call);
  place_waiting();
}

void Endpoint::on_call_lost(PendingCall* call, bool sent, const std::string& error) {
  --pending_;
  cluster_.on_attempt_failed(call, sent, ErrorCode::kUpstreamError,
                             "upstream " + name_ + ": " + error);
}

void Endpoint::on_connection_closed(UpstreamConnection* connection, bool was_connected, const std::string& error) {
  connections_.erase(std::remove(connections_.begin(), connections_.end(), connection), connections_.end());
  uint64_t now = cluster_.now_ms();
  if (!was_connected) {
    connecting_ = false;
    ++connect_failures_;
    uint64_t backoff = kFirstBackoffMs << std::min(connect_failures_ - 1, 6u);
    next_connect_ms_ = now + std::min(backoff, kMaxBackoffMs);
    record_failure(error);
  } else if (error != "every request in flight timed out") {
    LOG_INFO("cluster %s: upstream %s: %s", cluster_.config().name.c_str(), name_.c_str(), error.c_str());
  }
  if (waiting_.empty()) return;
  if (!connections_.empty() || now >= next_connect_ms_) {
    maybe_open_connection();
    return;
  }
  // Nothing open and no retry allowed yet: the waiting calls were never sent, so another
  // endpoint may take them.
  std::deque<PendingCall*> calls;
  calls.swap(waiting_);
  for (PendingCall* call : calls) {
    --pending_;
    cluster_.on_attempt_failed(call, false, ErrorCode::kUnavailable, "upstream " + name_ + ": " + error);
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
  for (UpstreamConnection* connection : std::vector<UpstreamConnection*>(connections_))
    connection->close("shutting down");
}

}  // namespace rpcgate::backends
