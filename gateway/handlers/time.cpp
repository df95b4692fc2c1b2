// time: the wall clock as [unix seconds, microseconds], the shape of Redis TIME.
#include <sys/time.h>

#include "gateway/handlers/builtin.h"

namespace rpcgate::handlers {
namespace {

class TimeHandler final : public Handler {
 public:
  void handle(const Request&, Response& response) const override {
    timeval now{};
    gettimeofday(&now, nullptr);
    response.kind = "time";
    response.result = Json::array({static_cast<int64_t>(now.tv_sec), static_cast<int64_t>(now.tv_usec)});
  }
};

}  // namespace

std::unique_ptr<Handler> make_time(const HandlerContext&) { return std::make_unique<TimeHandler>(); }

}  // namespace rpcgate::handlers
