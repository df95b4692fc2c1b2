// The built-in handlers' names, as the `handlers` config list and routes refer to them.
#include "gateway/handlers/builtin.h"

namespace rpcgate {

void register_builtin_handlers(HandlerRegistry& registry) {
  registry.add("ping", "answers out \"pong\" with the params as result (+PONG on RESP)", &handlers::make_ping);
  registry.add("echo", "answers the params unchanged", &handlers::make_echo);
  registry.add("time", "answers [unix seconds, microseconds], like Redis TIME", &handlers::make_time);
  registry.add("pi", "estimates pi with n+1 terms on the thread pool (the legacy example)", &handlers::make_pi);
  registry.add("info", "Redis-style INFO text: server, clients, stats", &handlers::make_info);
  registry.add("stats", "the same counters as a JSON object", &handlers::make_stats);
  registry.add("health", "SERVING, or NOT_SERVING while draining or failed by POST /healthcheck/fail (gRPC health)",
               &handlers::make_health);
  registry.add("config", "CONFIG GET for the parameters Redis tools read at start-up", &handlers::make_config);
}

}  // namespace rpcgate
