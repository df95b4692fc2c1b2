// The health of one endpoint as a value over time: passive ejection, the verdict of active health
// checks, and connect backoff. Pure: every moment is the caller's `now_ms`, and it neither logs nor
// counts; events that deserve a log line or a stat say so in what they return.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "conf/config.h"

namespace rpcgate::backends {

class EndpointHealth {
 public:
  // Reconnect backoff after failed connects: 100 ms, doubling, at most 5 s.
  static constexpr uint64_t kFirstBackoffMs = 100;
  static constexpr uint64_t kMaxBackoffMs = 5000;

  EndpointHealth(const conf::OutlierConfig& outlier, const conf::HealthCheckConfig& checks);

  // The balancer may choose it: not ejected, not failed by health checks, and either with a
  // connection (`connected`: open or opening) or allowed to try connecting again. Only a refused
  // connect holds it back: after a timed-out one (a full accept queue drops SYNs: legacy servers
  // have a backlog of 1) calls wait, within their deadlines, for the retry.
  bool usable(uint64_t now_ms, bool connected) const;
  // For INFO: why the balancer would not choose it now, or "up".
  const char* state(uint64_t now_ms, bool connected) const;

  // A good answer. Healthy for longer than max_ejection after its last ejection, the next
  // ejection starts short again.
  void on_success(uint64_t now_ms);
  // A transport failure (connect, close, garbage, timeout). Returns how long it is now ejected
  // for, when this failure ejected it.
  std::optional<uint64_t> on_failure(uint64_t now_ms);
  // A connect that failed (`timed_out`, or refused or hung up at once): no new attempt before
  // the backoff ends. It is also one failure: returns what on_failure returns.
  std::optional<uint64_t> on_connect_failed(uint64_t now_ms, bool timed_out, const std::string& error);
  // A connect succeeded: the backoff is over.
  void on_connected();

  // What one active check result changed, in the order to tell it.
  struct CheckOutcome {
    bool ejection_lifted = false;  // it passed while passively ejected: it answers again
    bool taken_out = false;        // the unhealthy threshold was just reached
    bool back_in = false;          // the healthy threshold was just reached
    unsigned threshold = 0;        // with taken_out or back_in: the streak that reached it
  };
  CheckOutcome on_check_result(uint64_t now_ms, bool passed);

  bool ejected(uint64_t now_ms) const { return now_ms < ejected_until_ms_; }
  bool checked_down() const { return checked_down_; }
  // No connect should start before it (0: any time).
  uint64_t next_connect_ms() const { return next_connect_ms_; }
  bool last_connect_timed_out() const { return last_connect_timed_out_; }
  // Why the last connect failed, when no connect has succeeded since; empty otherwise.
  const std::string& last_connect_error() const { return last_connect_error_; }

 private:
  conf::OutlierConfig outlier_;
  unsigned healthy_threshold_;
  unsigned unhealthy_threshold_;

  // Connect backoff.
  uint64_t next_connect_ms_ = 0;
  unsigned connect_failures_ = 0;
  bool last_connect_timed_out_ = false;
  std::string last_connect_error_;

  // Passive outlier ejection.
  unsigned consecutive_failures_ = 0;
  unsigned ejections_ = 0;
  uint64_t ejected_until_ms_ = 0;
  uint64_t last_ejection_end_ms_ = 0;

  // Active health checks.
  bool checked_down_ = false;
  unsigned check_streak_ = 0;  // consecutive results contrary to checked_down_
};

}  // namespace rpcgate::backends
