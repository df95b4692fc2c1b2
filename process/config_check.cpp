#include "process/config_check.h"

#include "conf/config_loader.h"
#include "gateway/handler_registry.h"
#include "gateway/router.h"

namespace rpcgate {

bool load_checked_config(const std::string& path, conf::Config& config, std::string& error) {
  try {
    config = conf::load_config_file(path);
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

}  // namespace rpcgate
