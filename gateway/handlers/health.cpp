// health: the gateway's readiness as the gRPC health protocol says it, for kOwnHealthMethod
// (grpc.health.v1.Health/Check), which every listener answers with it whatever the routes say.
// NOT_SERVING from the moment a drain begins or POST /healthcheck/fail holds, as /readyz turns
// 503 then: a load balancer that probes gRPC health stops sending calls when one probing /readyz
// would.
#include "gateway/handlers/builtin.h"

namespace rpcgate::handlers {
namespace {

class HealthHandler final : public Handler {
 public:
  explicit HealthHandler(const HandlerContext& context) : table_(context.stats) {}

  void handle(const Request&, Response& response) const override {
    response.result = table_.master().ready() ? "SERVING" : "NOT_SERVING";
  }

 private:
  const StatsTable& table_;
};

}  // namespace

std::unique_ptr<Handler> make_health(const HandlerContext& context) { return std::make_unique<HealthHandler>(context); }

}  // namespace rpcgate::handlers
