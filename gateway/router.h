// Maps a method name (and the client's identity) to what answers it: rpcgate's own methods (its
// INFO, kOwnInfoMethod, and the gRPC health check, kOwnHealthMethod) whatever the routes say, else
// the first route of the config that matches the method and admits the client, else an enabled built-in of the same
// name, else nothing (UNKNOWN_METHOD). Owns the handler instances.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "conf/config.h"
#include "gateway/handler_registry.h"

namespace rpcgate {

namespace backends {
class Cluster;
class Upstreams;
}  // namespace backends

// Exactly one of `handler` and `cluster` is set.
struct RouteTarget {
  const Handler* handler = nullptr;
  backends::Cluster* cluster = nullptr;
  const conf::RouteConfig* route = nullptr;  // nullptr when a built-in answers by its own name
  size_t route_index = 0;                    // the route's position in the config, when `route` is set
};

class Router {
 public:
  // Fills `error` ("FILE:LINE: ...") and returns nullptr when a route or the handlers list names
  // a handler the registry does not know. Routes to clusters point into `upstreams`; without it
  // (checking a config) they are only checked by name, which the config loader has done.
  static std::unique_ptr<Router> build(const conf::Config& config, const HandlerRegistry& registry,
                                       const HandlerContext& context, std::string& error,
                                       backends::Upstreams* upstreams = nullptr);

  // nullptr when nothing answers `method`. `identity` is the client's, from its certificate
  // ("" = none): a route with match.client_identity is skipped for other clients.
  const RouteTarget* resolve(const std::string& method, std::string_view identity = {}) const;

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };

  const Handler* instantiate(const std::string& name, const HandlerRegistry& registry, const HandlerContext& context);

  std::map<std::string, std::unique_ptr<Handler>> handlers_;  // one instance per name
  std::vector<RouteTarget> routes_;                           // in config order; each has its route set
  std::unordered_map<std::string, RouteTarget, StringHash, std::equal_to<>> builtins_;
  // kOwnInfoMethod and kOwnHealthMethod with their handlers (`info`, `health`) when the registry has them.
  std::vector<std::pair<std::string_view, RouteTarget>> own_;
};

}  // namespace rpcgate
