#include "gateway/handler_registry.h"

namespace rpcgate {

bool HandlerRegistry::add(std::string name, std::string summary, HandlerFactory factory) {
  if (find(name) != nullptr) return false;
  entries_.push_back({std::move(name), std::move(summary), factory});
  return true;
}

HandlerFactory HandlerRegistry::find(std::string_view name) const {
  for (const auto& entry : entries_)
    if (entry.name == name) return entry.factory;
  return nullptr;
}

const HandlerRegistry& HandlerRegistry::standard() {
  static const HandlerRegistry registry = [] {
    HandlerRegistry r;
    register_builtin_handlers(r);
    register_user_handlers(r);
    return r;
  }();
  return registry;
}

}  // namespace rpcgate
