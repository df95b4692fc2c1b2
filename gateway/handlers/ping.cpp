// ping: the legacy services' liveness call. JSON clients get {"out": "pong", "result": params};
// RESP clients get +PONG for a bare PING, like Redis, and their argument back otherwise.
#include "gateway/handlers/builtin.h"

namespace rpcgate::handlers {
namespace {

class PingHandler final : public Handler {
 public:
  void handle(const Request& request, Response& response) const override {
    response.kind = "pong";
    if (request.params.is_null())
      response.status = "PONG";
    else
      response.result = request.params;
  }
};

}  // namespace

std::unique_ptr<Handler> make_ping(const HandlerContext&) { return std::make_unique<PingHandler>(); }

}  // namespace rpcgate::handlers
