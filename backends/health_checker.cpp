#include "backends/health_checker.h"

#include <algorithm>

#include "backends/upstreams.h"

namespace rpcgate::backends {

HealthChecker::HealthChecker(Cluster& cluster) : cluster_(cluster) {
  uv_timer_init(cluster_.upstreams().loop(), &timer_);
  cluster_.upstreams().handle_opened();
  timer_.data = this;
}

HealthChecker::~HealthChecker() = default;

void HealthChecker::start() {
  auto interval = static_cast<uint64_t>(cluster_.config().health_check.interval.count());
  // The first round at once: an endpoint that is down is known before traffic needs it.
  uv_timer_start(&timer_, &HealthChecker::on_timer, 0, interval);
}

void HealthChecker::on_timer(uv_timer_t* timer) { static_cast<HealthChecker*>(timer->data)->check_all(); }

void HealthChecker::check_all() {
  const auto& check = cluster_.config().health_check;
  for (auto& endpoint : cluster_.endpoints()) {
    Endpoint* target = endpoint.get();
    // A check still running from the last round: its own timeout will report it.
    bool running =
        std::any_of(in_flight_.begin(), in_flight_.end(), [&](const Check& check) { return check.endpoint == target; });
    if (running) continue;
    PendingCall* call = new_call(this);
    call->request.method = check.method;
    cluster_.prepare(call, nullptr);
    call->upstream.timeout_ms = static_cast<uint64_t>(check.timeout.count());
    in_flight_.push_back(Check{call, target});
    cluster_.submit_health_check(*target, call);
  }
}

void HealthChecker::on_call_done(PendingCall* call) {
  auto found =
      std::find_if(in_flight_.begin(), in_flight_.end(), [&](const Check& check) { return check.call == call; });
  if (found != in_flight_.end()) {
    found->endpoint->record_check(!call->response.is_error(), call->response.message);
    in_flight_.erase(found);
  }
  free_call(call);
}

void HealthChecker::close() {
  uv_timer_stop(&timer_);
  for (const Check& check : in_flight_) {
    cluster_.cancel(check.call);
    free_call(check.call);
  }
  in_flight_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* handle) {
    static_cast<HealthChecker*>(handle->data)->cluster_.upstreams().handle_closed();
  });
}

}  // namespace rpcgate::backends
