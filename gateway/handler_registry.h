// Named handler factories. The gateway instantiates the handlers its config enables (the
// `handlers` list and route targets) from this registry. Built-ins register themselves in
// builtin_handlers.cpp, users' handlers in user_handlers.cpp.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "core/handler.h"
#include "core/stats.h"

namespace rpcgate {

namespace backends {
class Upstreams;
}

// What a factory may use to build its handler. References outlive every handler.
struct HandlerContext {
  const conf::Config& config;
  const StatsTable& stats;                         // every worker's counters
  size_t own_slot = 0;                             // this process's slot in `stats`
  const backends::Upstreams* upstreams = nullptr;  // this process's clusters, as it sees them now
};

using HandlerFactory = std::unique_ptr<Handler> (*)(const HandlerContext& context);

class HandlerRegistry {
 public:
  // Returns false when `name` is already taken.
  bool add(std::string name, std::string summary, HandlerFactory factory);
  // nullptr for an unknown name.
  HandlerFactory find(std::string_view name) const;

  struct Entry {
    std::string name;
    std::string summary;
    HandlerFactory factory;
  };
  const std::vector<Entry>& entries() const { return entries_; }

  // Every handler this build knows: built-ins plus users'.
  static const HandlerRegistry& standard();

 private:
  std::vector<Entry> entries_;
};

void register_builtin_handlers(HandlerRegistry& registry);
void register_user_handlers(HandlerRegistry& registry);

}  // namespace rpcgate
