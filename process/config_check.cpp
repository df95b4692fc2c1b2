#include "process/config_check.h"

#include <cerrno>

#include "conf/config_loader.h"
#include "core/listen_socket.h"
#include "gateway/handler_registry.h"
#include "gateway/router.h"

namespace rpcgate {

bool load_checked_config(const std::string& path, conf::Config& config, std::string& error) {
  std::vector<std::string_view> handlers;
  for (const auto& entry : HandlerRegistry::standard().entries()) handlers.push_back(entry.name);
  try {
    config = conf::load_config_file(path, handlers);
  } catch (const conf::ConfigError& problem) {
    error = problem.what();
    return false;
  }
  auto unrunnable = conf::unrunnable_settings(config);
  if (!unrunnable.empty()) {
    error.clear();
    for (const auto& line : unrunnable) error += (error.empty() ? "" : "\n") + line;
    return false;
  }
  auto stats = StatsTable::create(1);
  HandlerContext context{config, *stats, 0, nullptr};
  return Router::build(config, HandlerRegistry::standard(), context, error) != nullptr;
}

BindCheck check_addresses(const conf::Config& config) {
  BindCheck check;
  auto probe = [&](const conf::Address& address, const std::string& path) {
    std::string error;
    int failure = probe_bind(address.host, address.port, error);
    if (failure == 0) return;
    std::string where = config.origin_of(path).describe() + ": " + path + ": " + address.to_string();
    if (failure == EADDRINUSE)
      check.notes.push_back(where + " is in use (by the running gateway, if this check precedes a reload)");
    else
      check.problems.push_back(where + " cannot be bound here: " + error);
  };
  for (size_t i = 0; i < config.listeners.size(); ++i)
    probe(config.listeners[i].address, "listeners[" + std::to_string(i) + "].address");
  if (config.admin.address) probe(*config.admin.address, "admin.address");
  return check;
}

}  // namespace rpcgate
