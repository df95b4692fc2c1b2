// Chooses the endpoint of a cluster for each request. A balancer sees endpoints only as indexes
// with a usable flag and a pending count, so it knows nothing of sockets or health rules: the
// cluster decides what "usable" means (not ejected, not failed by health checks, connectable).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/message.h"

namespace rpcgate::backends {

struct EndpointView {
  bool usable = false;
  size_t pending = 0;  // requests sent or waiting for this endpoint and not yet answered
};

class LoadBalancer {
 public:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  virtual ~LoadBalancer() = default;

  // The endpoints' identities (canonical "host:port"), in the order later calls index them, and
  // their weights (each at least 1; a weight-2 endpoint gets twice the share of a weight-1 one).
  // Called once at start and again whenever the set changes (discovery).
  virtual void reset(const std::vector<std::string>& names, const std::vector<unsigned>& weights) = 0;

  // The index of the endpoint for `request`, among the usable ones. `avoid` (a retry's previous
  // endpoint, or kNone) is chosen only when no other endpoint is usable. kNone when none is.
  virtual size_t pick(const Request& request, std::span<const EndpointView> endpoints, size_t avoid) = 0;

  // Whether pick() reads the request's params (a hash of a key), which a call forwarded as its
  // frame may not have decoded (Request::params_deferred).
  virtual bool reads_params() const { return false; }
};

// `name`: round_robin | random | least_pending | consistent_hash (the config loader has
// validated it). `hash_key`: consistent_hash only; "" (the first argument), "params" or
// "params.PATH".
std::unique_ptr<LoadBalancer> make_load_balancer(std::string_view name, std::string_view hash_key);

}  // namespace rpcgate::backends
