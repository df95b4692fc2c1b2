// The handler seam: in-process code that answers a method. Users add their own through the
// HandlerRegistry (gateway/handler_registry.h); docs/handlers.md shows how.
#pragma once

#include "core/message.h"

namespace rpcgate {

class Handler {
 public:
  virtual ~Handler() = default;

  // Fills `response` from `request`. Runs on the event loop thread, so it must not block, unless
  // blocking() is true: then it runs on the libuv thread pool and may take as long as it needs,
  // but must touch nothing but its arguments and its own immutable state.
  virtual void handle(const Request& request, Response& response) const = 0;

  virtual bool blocking() const { return false; }
};

}  // namespace rpcgate
