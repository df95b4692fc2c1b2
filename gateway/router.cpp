#include "gateway/router.h"

#include <algorithm>

#include "backends/upstreams.h"

namespace rpcgate {
namespace {

std::string known_names(const HandlerRegistry& registry) {
  std::string names;
  for (const auto& entry : registry.entries()) names += (names.empty() ? "" : ", ") + entry.name;
  return names;
}

}  // namespace

const Handler* Router::instantiate(const std::string& name, const HandlerRegistry& registry,
                                   const HandlerContext& context) {
  auto found = handlers_.find(name);
  if (found != handlers_.end()) return found->second.get();
  HandlerFactory factory = registry.find(name);
  if (factory == nullptr) return nullptr;
  return handlers_.emplace(name, factory(context)).first->second.get();
}

std::unique_ptr<Router> Router::build(const conf::Config& config, const HandlerRegistry& registry,
                                      const HandlerContext& context, std::string& error,
                                      backends::Upstreams* upstreams) {
  auto router = std::unique_ptr<Router>(new Router());
  for (size_t i = 0; i < config.handlers.enabled.size(); ++i) {
    const std::string& name = config.handlers.enabled[i];
    const Handler* handler = router->instantiate(name, registry, context);
    if (handler == nullptr) {
      error = config.origin_of("handlers.enable[" + std::to_string(i) + "]").describe() +
              ": handlers: unknown handler '" + name + "'; known: " + known_names(registry);
      return nullptr;
    }
    router->builtins_.emplace(name, RouteTarget{handler, nullptr, nullptr});
  }
  for (auto [method, name] : {std::pair{kOwnInfoMethod, "info"}, std::pair{kOwnHealthMethod, "health"}})
    if (const Handler* handler = router->instantiate(name, registry, context))
      router->own_.emplace_back(method, RouteTarget{handler, nullptr, nullptr});
  for (const auto& route : config.routes) {
    size_t index = static_cast<size_t>(&route - config.routes.data());
    if (!route.cluster.empty()) {
      backends::Cluster* cluster = upstreams != nullptr ? upstreams->find(route.cluster) : nullptr;
      if (upstreams != nullptr && cluster == nullptr) {
        error = route.origin.describe() + ": route targets unknown cluster '" + route.cluster + "'";
        return nullptr;
      }
      router->routes_.push_back(RouteTarget{nullptr, cluster, &route, index});
      continue;
    }
    const Handler* handler = router->instantiate(route.handler, registry, context);
    if (handler == nullptr) {
      error = route.origin.describe() + ": route targets unknown handler '" + route.handler +
              "'; known: " + known_names(registry);
      return nullptr;
    }
    router->routes_.push_back(RouteTarget{handler, nullptr, &route, index});
  }
  return router;
}

const RouteTarget* Router::resolve(const std::string& method, std::string_view identity) const {
  for (const auto& [name, target] : own_)
    if (method == name) return &target;
  for (const auto& target : routes_)
    if (target.route->matches(method) && target.route->admits(identity)) return &target;
  auto builtin = builtins_.find(std::string_view(method));
  return builtin == builtins_.end() ? nullptr : &builtin->second;
}

}  // namespace rpcgate
