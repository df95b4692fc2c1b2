// echo: answers its params unchanged (Redis ECHO on the RESP port).
#include "gateway/handlers/builtin.h"

namespace rpcgate::handlers {
namespace {

class EchoHandler final : public Handler {
 public:
  void handle(const Request& request, Response& response) const override {
    response.kind = "echo";
    response.result = request.params;
  }
};

}  // namespace

std::unique_ptr<Handler> make_echo(const HandlerContext&) { return std::make_unique<EchoHandler>(); }

}  // namespace rpcgate::handlers
