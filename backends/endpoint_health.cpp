#include "backends/endpoint_health.h"

#include <algorithm>

namespace rpcgate::backends {

EndpointHealth::EndpointHealth(const conf::OutlierConfig& outlier, const conf::HealthCheckConfig& checks)
    : outlier_(outlier),
      healthy_threshold_(static_cast<unsigned>(checks.healthy_threshold)),
      unhealthy_threshold_(static_cast<unsigned>(checks.unhealthy_threshold)) {}

bool EndpointHealth::usable(uint64_t now_ms, bool connected) const {
  if (checked_down_ || now_ms < ejected_until_ms_) return false;
  return connected || now_ms >= next_connect_ms_ || last_connect_timed_out_;
}

const char* EndpointHealth::state(uint64_t now_ms, bool connected) const {
  if (checked_down_) return "failing_health_checks";
  if (now_ms < ejected_until_ms_) return "ejected";
  if (!usable(now_ms, connected)) return "connect_backoff";
  if (!last_connect_error_.empty()) return "connect_failing";
  return "up";
}

void EndpointHealth::on_success(uint64_t now_ms) {
  consecutive_failures_ = 0;
  if (ejections_ > 0 && now_ms > last_ejection_end_ms_ + static_cast<uint64_t>(outlier_.max_ejection.count()))
    ejections_ = 0;
}

std::optional<uint64_t> EndpointHealth::on_failure(uint64_t now_ms) {
  // Failures while ejected still count: one more once it is back may eject it again at once.
  ++consecutive_failures_;
  auto threshold = static_cast<unsigned>(outlier_.consecutive_failures);
  if (threshold == 0 || consecutive_failures_ < threshold) return std::nullopt;
  if (now_ms < ejected_until_ms_) return std::nullopt;
  auto base = static_cast<uint64_t>(outlier_.base_ejection.count());
  auto cap = static_cast<uint64_t>(outlier_.max_ejection.count());
  uint64_t duration = std::min(cap, base << std::min(ejections_, 20u));
  ++ejections_;
  consecutive_failures_ = 0;
  ejected_until_ms_ = last_ejection_end_ms_ = now_ms + duration;
  return duration;
}

std::optional<uint64_t> EndpointHealth::on_connect_failed(uint64_t now_ms, bool timed_out, const std::string& error) {
  last_connect_timed_out_ = timed_out;
  last_connect_error_ = error;
  ++connect_failures_;
  uint64_t backoff = kFirstBackoffMs << std::min(connect_failures_ - 1, 6u);
  next_connect_ms_ = now_ms + std::min(backoff, kMaxBackoffMs);
  return on_failure(now_ms);
}

void EndpointHealth::on_connected() {
  last_connect_timed_out_ = false;
  last_connect_error_.clear();
  connect_failures_ = 0;
  next_connect_ms_ = 0;
}

EndpointHealth::CheckOutcome EndpointHealth::on_check_result(uint64_t now_ms, bool passed) {
  CheckOutcome outcome;
  if (passed && ejected_until_ms_ > now_ms) {
    // A passed check outweighs the passive verdict: the endpoint answers again (it restarted).
    ejected_until_ms_ = 0;
    consecutive_failures_ = 0;
    outcome.ejection_lifted = true;
  }
  if (passed != checked_down_) {
    check_streak_ = 0;  // agrees with the current state
    return outcome;
  }
  ++check_streak_;
  unsigned needed = passed ? healthy_threshold_ : unhealthy_threshold_;
  if (check_streak_ < needed) return outcome;
  checked_down_ = !passed;
  check_streak_ = 0;
  outcome.taken_out = checked_down_;
  outcome.back_in = !checked_down_;
  outcome.threshold = needed;
  return outcome;
}

}  // namespace rpcgate::backends
