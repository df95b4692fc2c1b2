// Factories of the built-in handlers, registered by builtin_handlers.cpp.
#pragma once

#include <memory>

#include "gateway/handler_registry.h"

namespace rpcgate::handlers {

std::unique_ptr<Handler> make_ping(const HandlerContext& context);
std::unique_ptr<Handler> make_echo(const HandlerContext& context);
std::unique_ptr<Handler> make_time(const HandlerContext& context);
std::unique_ptr<Handler> make_pi(const HandlerContext& context);
std::unique_ptr<Handler> make_info(const HandlerContext& context);
std::unique_ptr<Handler> make_stats(const HandlerContext& context);
std::unique_ptr<Handler> make_config(const HandlerContext& context);
std::unique_ptr<Handler> make_health(const HandlerContext& context);

// The legacy services' pi estimate, term for term (so answers match them value for value).
double legacy_pi(int64_t n);

}  // namespace rpcgate::handlers
