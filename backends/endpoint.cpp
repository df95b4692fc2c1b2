#include "backends/endpoint.h"

#include <arpa/inet.h>

#include <algorithm>

#include "backends/cluster.h"
#include "backends/upstream_connection.h"
#include "backends/upstreams.h"
#include "core/log.h"
#include "core/pending_call.h"

namespace rpcgate::backends {
namespace {

// Reconnect backoff after failed connects: 100 ms, doubling, at most 5 s.
constexpr uint64_t kFirstBackoffMs = 100;
constexpr uint64_t kMaxBackoffMs = 5000;

}  // namespace

Endpoint::Endpoint(Cluster& cluster, const conf::Address& address)
    : cluster_(cluster), name_(address.to_string()) {
  uv_timer_init(cluster_.upstreams().loop(), &retry_timer_);
  cluster_.upstreams().handle_opened();
  retry_timer_.data = this;
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
  return !lanes_.empty() || now_ms >= next_connect_ms_ || last_connect_timed_out_;
}

Endpoint::Lane* Endpoint::lane_of(const UpstreamConnection* connection) {
  for (Lane& lane : lanes_)
    if (lane.connection == connection) return &lane;
  return nullptr;
}

UpstreamConnection* Endpoint::least_loaded() const {
  UpstreamConnection* best = nullptr;
  for (const Lane& lane : lanes_)
    if (lane.queue.empty() && lane.connection->has_room() && (best == nullptr || lane.connection->load() < best->load()))
      best = lane.connection;
  return best;
}

UpstreamConnection* Endpoint::least_busy() const {
  UpstreamConnection* best = nullptr;
  size_t best_busy = 0;
  for (const Lane& lane : lanes_) {
    if (!lane.connection->connected()) continue;
    size_t busy = lane.connection->load() + lane.queue.size();
    if (best == nullptr || busy < best_busy) {
      best = lane.connection;
      best_busy = busy;
    }
  }
  return best;
}

void Endpoint::submit(PendingCall* call) {
  call->upstream.endpoint = this;
  ++pending_;
  Stick& stick = sticks_[call->owner];
  if (stick.calls++ == 0) {
    // A new client: a connection with room now; else, when the pool is full, a place in the
    // queue of the least busy connection; else it waits for the connection the pool opens next.
    stick.connection = least_loaded();
    if (stick.connection == nullptr && lanes_.size() >= cluster_.config().max_connections)
      stick.connection = least_busy();
  }
  if (stick.unassigned > 0 || stick.connection == nullptr) {
    ++stick.unassigned;
    unassigned_.push_back(call);
  } else {
    enqueue(call, stick.connection);
  }
  grow();
}

void Endpoint::enqueue(PendingCall* call, UpstreamConnection* connection) {
  Lane& lane = *lane_of(connection);
  if (lane.queue.empty() && connection->has_room()) {
    connection->send(call);
    return;
  }
  lane.queue.push_back(call);
}

void Endpoint::send_queued(Lane& lane) {
  while (!lane.queue.empty() && lane.connection->has_room()) {
    PendingCall* call = lane.queue.front();
    lane.queue.pop_front();
    lane.connection->send(call);
  }
}

void Endpoint::assign_unassigned() {
  while (!unassigned_.empty()) {
    PendingCall* call = unassigned_.front();
    Stick& stick = sticks_[call->owner];
    if (stick.connection == nullptr) {
      stick.connection = least_loaded();
      if (stick.connection == nullptr) return;  // nothing has room: wait for the next one
    }
    unassigned_.pop_front();
    --stick.unassigned;
    enqueue(call, stick.connection);
  }
}

void Endpoint::grow() {
  if (connecting_ || lanes_.size() >= cluster_.config().max_connections) return;
  // An idle connection takes the next client at once. Without one, the next client would queue
  // behind others' requests, which upstreams that serve a connection's requests one at a time
  // (the legacy services) would make it wait for.
  for (const Lane& lane : lanes_)
    if (lane.queue.empty() && lane.connection->connected() && lane.connection->load() == 0) return;
  connecting_ = true;
  auto* connection = new UpstreamConnection(*this, *this);
  lanes_.push_back(Lane{connection, {}});
  connection->connect();
}

void Endpoint::release(PendingCall* call) {
  --pending_;
  auto stick = sticks_.find(call->owner);
  if (stick != sticks_.end() && --stick->second.calls == 0) sticks_.erase(stick);
  finish_retirement_when_idle();
}

bool Endpoint::take_pin_slot() {
  if (pinned_ >= cluster_.config().max_pinned) return false;
  ++pinned_;
  return true;
}

void Endpoint::release_pin_slot() {
  --pinned_;
  finish_retirement_when_idle();
}

void Endpoint::retire() {
  retired_ = true;
  std::deque<PendingCall*> unsent;
  unsent.swap(unassigned_);
  for (PendingCall* call : unsent) --sticks_[call->owner].unassigned;
  for (Lane& lane : lanes_) {
    unsent.insert(unsent.end(), lane.queue.begin(), lane.queue.end());
    lane.queue.clear();
  }
  for (PendingCall* call : unsent) {
    release(call);
    cluster_.on_attempt_failed(call, false, ErrorCode::kUnavailable, "upstream " + name_ + " left the cluster");
  }
  finish_retirement_when_idle();
}

void Endpoint::revive() {
  retired_ = false;
  uv_timer_stop(&retry_timer_);
}

void Endpoint::finish_retirement_when_idle() {
  if (!retired_ || closing_ || pending_ > 0 || pinned_ > 0) return;
  uv_timer_start(&retry_timer_, [](uv_timer_t* timer) {
    auto* self = static_cast<Endpoint*>(timer->data);
    if (self->retired_ && !self->closing_ && self->pending_ == 0 && self->pinned_ == 0)
      self->close_all("it left the cluster (discovery) and has nothing in flight");
  }, 0, 0);
}

std::string Endpoint::health(uint64_t now_ms) const {
  if (checked_down_) return "failing_health_checks";
  if (now_ms < ejected_until_ms_) return "ejected";
  if (!usable(now_ms)) return "connect_backoff";
  if (!last_connect_error_.empty()) return "connect_failing";
  return "up";
}

void Endpoint::withdraw_waiting(PendingCall* call) {
  auto take = [&](std::deque<PendingCall*>& queue) {
    auto found = std::find(queue.begin(), queue.end(), call);
    if (found == queue.end()) return false;
    queue.erase(found);
    release(call);
    return true;
  };
  if (std::find(unassigned_.begin(), unassigned_.end(), call) != unassigned_.end()) {
    --sticks_[call->owner].unassigned;
    take(unassigned_);
    return;
  }
  for (Lane& lane : lanes_)
    if (take(lane.queue)) return;
}

void Endpoint::orphan(PendingCall* call, bool timed_out) {
  release(call);
  call->upstream.connection->orphan(call, timed_out);
}

void Endpoint::on_connected(UpstreamConnection* connection) {
  ++cluster_.stats().connects;
  ++cluster_.stats().connections;
  connecting_ = false;
  last_connect_timed_out_ = false;
  last_connect_error_.clear();
  connect_failures_ = 0;
  next_connect_ms_ = 0;
  send_queued(*lane_of(connection));
  assign_unassigned();
  if (!unassigned_.empty()) grow();
}

void Endpoint::on_room(UpstreamConnection* connection) {
  if (Lane* lane = lane_of(connection)) send_queued(*lane);
  assign_unassigned();
}

void Endpoint::on_answer(PendingCall* call) {
  release(call);
  record_success();
  cluster_.on_answer(call);
}

void Endpoint::on_call_lost(PendingCall* call, bool sent, const std::string& error) {
  release(call);
  cluster_.on_attempt_failed(call, sent, ErrorCode::kUpstreamError, "upstream " + name_ + ": " + error);
}

void Endpoint::on_connection_closed(UpstreamConnection* connection, bool was_connected, bool lost_calls,
                                    const std::string& error) {
  // Calls queued for it were never sent: back to the front of the line, unassigned.
  for (auto& [owner, stick] : sticks_)
    if (stick.connection == connection) stick.connection = nullptr;
  Lane* lane = lane_of(connection);
  for (auto call = lane->queue.rbegin(); call != lane->queue.rend(); ++call) {
    ++sticks_[(*call)->owner].unassigned;
    unassigned_.push_front(*call);
  }
  lanes_.erase(lanes_.begin() + (lane - lanes_.data()));
  uint64_t now = cluster_.now_ms();
  if (was_connected) --cluster_.stats().connections;
  // A server that accepts and hangs up at once gets the backoff of a failed connect, or the
  // requests waiting for it (never written) would reconnect as fast as it hangs up.
  bool refused = !was_connected || connection->hung_up_at_once();
  if (refused) {
    ++cluster_.stats().connect_failures;
    if (!was_connected) connecting_ = false;
    last_connect_timed_out_ = connection->connect_timed_out();
    last_connect_error_ = error;
    ++connect_failures_;
    uint64_t backoff = kFirstBackoffMs << std::min(connect_failures_ - 1, 6u);
    next_connect_ms_ = now + std::min(backoff, kMaxBackoffMs);
    record_failure(error);
  } else if (error != UpstreamConnection::kAllTimedOut) {
    LOG_INFO("cluster %s: upstream %s: %s", cluster_.config().name.c_str(), name_.c_str(), error.c_str());
    if (lost_calls) record_failure(error);
  }
  assign_unassigned();
  if (unassigned_.empty()) return;
  if (now >= next_connect_ms_ || !lanes_.empty()) {
    grow();
    return;
  }
  if (last_connect_timed_out_) {
    uv_timer_start(&retry_timer_, [](uv_timer_t* timer) { static_cast<Endpoint*>(timer->data)->grow(); },
                   next_connect_ms_ - now, 0);
    return;
  }
  // Nothing open and in connect backoff: the waiting calls were never sent, so another endpoint
  // may take them now rather than wait out the backoff.
  std::deque<PendingCall*> calls;
  calls.swap(unassigned_);
  for (PendingCall* call : calls) {
    --sticks_[call->owner].unassigned;
    release(call);
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
  ++cluster_.stats().ejections;
  consecutive_failures_ = 0;
  ejected_until_ms_ = last_ejection_end_ms_ = now + duration;
  LOG_WARN("cluster %s: ejecting upstream %s for %llu ms after %u failures in a row (last: %s)",
           cluster_.config().name.c_str(), name_.c_str(), static_cast<unsigned long long>(duration),
           outlier.consecutive_failures, why.c_str());
}

void Endpoint::record_check(bool passed, const std::string& why) {
  const auto& check = cluster_.config().health_check;
  if (passed && ejected_until_ms_ > cluster_.now_ms()) {
    // A passed check outweighs the passive verdict: the endpoint answers again (it restarted).
    ejected_until_ms_ = 0;
    consecutive_failures_ = 0;
    LOG_INFO("cluster %s: upstream %s passed a health check; no longer ejected", cluster_.config().name.c_str(),
             name_.c_str());
  }
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

// The last of the endpoint's handles: a retired endpoint can be freed once it has closed (its
// connections are closed by then, and theirs no longer need it).
void Endpoint::on_retry_timer_closed(uv_handle_t* handle) {
  auto* self = static_cast<Endpoint*>(handle->data);
  Upstreams& upstreams = self->cluster_.upstreams();
  if (self->retired_) self->cluster_.forget(self);
  upstreams.handle_closed();
}

void Endpoint::close_all(const std::string& why) {
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&retry_timer_), &Endpoint::on_retry_timer_closed);
  std::vector<UpstreamConnection*> open;
  for (const Lane& lane : lanes_) open.push_back(lane.connection);
  for (UpstreamConnection* connection : open) connection->close(why);
}

}  // namespace rpcgate::backends
