// config: answers `CONFIG GET name...` the way Redis does for the few parameters Redis tools ask
// about on start-up (redis-benchmark reads `save` and `appendonly` and warns when it cannot).
// A handler rather than a RESP connection command, so that a route can still send CONFIG to a
// real Redis behind the gateway.
#include <fnmatch.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "gateway/handlers/builtin.h"

namespace rpcgate::handlers {
namespace {

// What a gateway with no persistence of its own truthfully reports.
constexpr std::array<std::pair<std::string_view, std::string_view>, 2> kParameters = {{
    {"save", ""},
    {"appendonly", "no"},
}};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

class ConfigHandler final : public Handler {
 public:
  void handle(const Request& request, Response& response) const override {
    const Json& params = request.params;
    bool is_get =
        params.is_array() && !params.empty() && params[0].is_string() && lower(params[0].get<std::string>()) == "get";
    if (!is_get) {
      response.set_error(ErrorCode::kBadRequest, "only CONFIG GET <parameter>... is supported");
      return;
    }
    Json pairs = Json::array();
    for (size_t i = 1; i < params.size(); ++i) {
      if (!params[i].is_string()) continue;
      std::string pattern = lower(params[i].get<std::string>());
      for (const auto& [name, value] : kParameters) {
        if (fnmatch(pattern.c_str(), std::string(name).c_str(), 0) != 0) continue;
        pairs.push_back(name);
        pairs.push_back(value);
      }
    }
    response.kind = "config";
    response.result = std::move(pairs);
  }
};

}  // namespace

std::unique_ptr<Handler> make_config(const HandlerContext&) { return std::make_unique<ConfigHandler>(); }

}  // namespace rpcgate::handlers
