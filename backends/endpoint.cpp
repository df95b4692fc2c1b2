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

// Whose order a call keeps: its owner's, or for a part of a split request its whole's owner's, so
// that a client's parts and its plain calls to one endpoint take one connection, in order.
const CallOwner* stick_key(const PendingCall* call) {
  return call->upstream.order_owner != nullptr ? call->upstream.order_owner : call->owner;
}

}  // namespace

Endpoint::Endpoint(Cluster& cluster, const conf::Address& address)
    : cluster_(cluster),
      name_(address.to_string()),
      host_(address.host),
      health_(cluster.config().outlier, cluster.config().health_check) {
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

Endpoint::Lane* Endpoint::lane_of(const UpstreamConnection* connection) {
  for (Lane& lane : lanes_)
    if (lane.connection == connection) return &lane;
  return nullptr;
}

UpstreamConnection* Endpoint::least_loaded() const {
  UpstreamConnection* best = nullptr;
  for (const Lane& lane : lanes_)
    if (lane.queue.empty() && lane.connection->has_room() &&
        (best == nullptr || lane.connection->load() < best->load()))
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
  Stick& stick = sticks_[stick_key(call)];
  if (stick.calls++ == 0) {
    // A new client: a connection with room now; else, when the pool is full, a place in the
    // queue of the least busy connection; else it waits for the connection the pool opens next.
    stick.connection = least_loaded();
    // A multiplexed pool that is still opening a connection (its others full) gives it that one.
    if (stick.connection == nullptr && lanes_.size() >= cluster_.config().max_connections &&
        !(connecting_ && cluster_.multiplexed()))
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
    Stick& stick = sticks_[stick_key(call)];
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
  // A multiplexed connection (HTTP/2) serves the next client side by side with the others until
  // it is full.
  for (const Lane& lane : lanes_)
    if (lane.queue.empty() && lane.connection->connected() &&
        (cluster_.multiplexed() ? lane.connection->has_room() : lane.connection->load() == 0))
      return;
  connecting_ = true;
  auto* connection = new UpstreamConnection(*this, *this);
  lanes_.push_back(Lane{connection, {}});
  connection->connect();
}

void Endpoint::release(PendingCall* call) {
  --pending_;
  auto stick = sticks_.find(stick_key(call));
  if (stick != sticks_.end() && --stick->second.calls == 0) sticks_.erase(stick);
  finish_retirement_when_idle();
}

bool Endpoint::tls_failure_is_news(const std::string& error) {
  if (error == last_tls_failure_) return false;
  last_tls_failure_ = error;
  return true;
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
  for (PendingCall* call : unsent) --sticks_[stick_key(call)].unassigned;
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
  uv_timer_start(
      &retry_timer_,
      [](uv_timer_t* timer) {
        auto* self = static_cast<Endpoint*>(timer->data);
        if (self->retired_ && !self->closing_ && self->pending_ == 0 && self->pinned_ == 0)
          self->close_all("it left the cluster (discovery) and has nothing in flight");
      },
      0, 0);
}

std::string Endpoint::health(uint64_t now_ms) const { return health_.state(now_ms, !lanes_.empty()); }

void Endpoint::withdraw_waiting(PendingCall* call) {
  auto take = [&](std::deque<PendingCall*>& queue) {
    auto found = std::find(queue.begin(), queue.end(), call);
    if (found == queue.end()) return false;
    queue.erase(found);
    release(call);
    return true;
  };
  if (std::find(unassigned_.begin(), unassigned_.end(), call) != unassigned_.end()) {
    --sticks_[stick_key(call)].unassigned;
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
  health_.on_connected();
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
    ++sticks_[stick_key(*call)].unassigned;
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
    report_ejection(health_.on_connect_failed(now, connection->connect_timed_out(), error), error);
  } else if (error != UpstreamConnection::kAllTimedOut) {
    LOG_INFO("cluster %s: upstream %s: %s", cluster_.config().name.c_str(), name_.c_str(), error.c_str());
    if (lost_calls) record_failure(error);
  }
  assign_unassigned();
  if (unassigned_.empty()) return;
  if (now >= health_.next_connect_ms() || !lanes_.empty()) {
    grow();
    return;
  }
  if (health_.last_connect_timed_out()) {
    uv_timer_start(
        &retry_timer_, [](uv_timer_t* timer) { static_cast<Endpoint*>(timer->data)->grow(); },
        health_.next_connect_ms() - now, 0);
    return;
  }
  // Nothing open and in connect backoff: the waiting calls were never sent, so another endpoint
  // may take them now rather than wait out the backoff.
  std::deque<PendingCall*> calls;
  calls.swap(unassigned_);
  for (PendingCall* call : calls) {
    --sticks_[stick_key(call)].unassigned;
    release(call);
    cluster_.on_attempt_failed(call, false, ErrorCode::kUnavailable, "upstream " + name_ + ": " + error);
  }
}

void Endpoint::record_success() { health_.on_success(cluster_.now_ms()); }

void Endpoint::record_failure(const std::string& why) { report_ejection(health_.on_failure(cluster_.now_ms()), why); }

void Endpoint::report_ejection(std::optional<uint64_t> duration_ms, const std::string& why) {
  if (!duration_ms) return;
  ++cluster_.stats().ejections;
  LOG_WARN("cluster %s: ejecting upstream %s for %llu ms after %u failures in a row (last: %s)",
           cluster_.config().name.c_str(), name_.c_str(), static_cast<unsigned long long>(*duration_ms),
           cluster_.config().outlier.consecutive_failures, why.c_str());
}

void Endpoint::record_check(bool passed, const std::string& why) {
  EndpointHealth::CheckOutcome outcome = health_.on_check_result(cluster_.now_ms(), passed);
  const char* cluster_name = cluster_.config().name.c_str();
  if (outcome.ejection_lifted)
    LOG_INFO("cluster %s: upstream %s passed a health check; no longer ejected", cluster_name, name_.c_str());
  if (outcome.taken_out)
    LOG_WARN("cluster %s: upstream %s failed %u health checks in a row (last: %s); taken out", cluster_name,
             name_.c_str(), outcome.threshold, why.c_str());
  if (outcome.back_in)
    LOG_INFO("cluster %s: upstream %s passed %u health checks in a row; back in", cluster_name, name_.c_str(),
             outcome.threshold);
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
