// Your own in-process handlers: write a Handler, register its factory here, enable it by name in
// the config (`handlers: [..., upper]` or a route `handler: upper`). docs/handlers.md walks
// through it. `upper` is the worked example.
#include <algorithm>
#include <cctype>

#include "gateway/handler_registry.h"

namespace rpcgate {
namespace {

// upper: answers its string params upper-cased; anything else is a BAD_REQUEST.
class UpperHandler final : public Handler {
 public:
  void handle(const Request& request, Response& response) const override {
    if (!request.params.is_string()) {
      response.set_error(ErrorCode::kBadRequest, "upper expects a string");
      return;
    }
    std::string text = request.params.get<std::string>();
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
    response.kind = "upper";
    response.result = std::move(text);
  }
};

}  // namespace

void register_user_handlers(HandlerRegistry& registry) {
  registry.add("upper", "example user handler: upper-cases a string",
               [](const HandlerContext&) -> std::unique_ptr<Handler> { return std::make_unique<UpperHandler>(); });
}

}  // namespace rpcgate
