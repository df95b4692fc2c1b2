// The active health check of one cluster in one worker: every interval, the configured method is
// called on every endpoint, through its connection pool, and the results move the endpoint in or
// out of rotation past the configured thresholds.
#pragma once

#include <uv.h>

#include <vector>

#include "backends/cluster.h"
#include "core/pending_call.h"

namespace rpcgate::backends {

class HealthChecker final : public CallOwner {
 public:
  explicit HealthChecker(Cluster& cluster);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  void start();
  // Stops the timer and forgets the checks in flight; the timer is released asynchronously.
  void close();

  void on_call_done(PendingCall* call) override;

 private:
  static void on_timer(uv_timer_t* timer);
  void check_all();

  Cluster& cluster_;
  uv_timer_t timer_{};
  struct Check {
    PendingCall* call;
    Endpoint* endpoint;
  };
  std::vector<Check> in_flight_;  // at most one per endpoint
};

}  // namespace rpcgate::backends
