// Router: first matching route wins, then enabled built-ins by name, else nothing; bad handler
// names are refused at build time with the route's file and line.
#include <doctest/doctest.h>

#include "gateway/handlers/builtin.h"
#include "gateway/router.h"

using namespace rpcgate;

namespace {

conf::RouteConfig route(conf::RouteConfig::MatchKind kind, std::vector<std::string> methods, std::string pattern,
                        std::string handler, int line) {
  conf::RouteConfig r;
  r.kind = kind;
  r.methods = std::move(methods);
  r.pattern = std::move(pattern);
  r.handler = std::move(handler);
  r.origin = {"test.yaml", line};
  return r;
}

struct Fixture {
  conf::Config config;
  std::unique_ptr<StatsTable> stats = StatsTable::create(1);
  std::string error;

  std::unique_ptr<Router> build() {
    HandlerContext context{config, *stats, 0, nullptr};
    return Router::build(config, HandlerRegistry::standard(), context, error);
  }

  static std::string answer_kind(const Router& router, const std::string& method) {
    const RouteTarget* target = router.resolve(method);
    if (target == nullptr) return "<none>";
    Request request;
    request.method = method;
    request.params = "x";
    Response response;
    target->handler->handle(request, response);
    return response.kind;
  }
};

}  // namespace

TEST_CASE("built-ins answer by their own name only when enabled") {
  Fixture f;
  f.config.handlers.enabled = {"ping", "echo"};
  auto router = f.build();
  REQUIRE(router);
  CHECK(Fixture::answer_kind(*router, "ping") == "pong");
  CHECK(Fixture::answer_kind(*router, "echo") == "echo");
  CHECK(router->resolve("time") == nullptr);
  CHECK(router->resolve("PING") == nullptr);  // case folding is the RESP codec's business
  CHECK(router->resolve("") == nullptr);
}

TEST_CASE("routes match exact lists, prefixes and globs; the first match wins") {
  using Kind = conf::RouteConfig::MatchKind;
  Fixture f;
  f.config.handlers.enabled = {"ping"};
  f.config.routes = {
      route(Kind::kMethods, {"get", "set"}, "", "echo", 3), route(Kind::kPrefix, {}, "user.", "upper", 4),
      route(Kind::kGlob, {}, "*.ping", "ping", 5),
      route(Kind::kGlob, {}, "user.*", "echo", 6),  // shadowed by the prefix route above
  };
  auto router = f.build();
  REQUIRE(router);
  CHECK(Fixture::answer_kind(*router, "get") == "echo");
  CHECK(Fixture::answer_kind(*router, "set") == "echo");
  CHECK(Fixture::answer_kind(*router, "gets") == "<none>");
  CHECK(Fixture::answer_kind(*router, "user.get") == "upper");
  CHECK(Fixture::answer_kind(*router, "user.") == "upper");
  CHECK(Fixture::answer_kind(*router, "users") == "<none>");
  CHECK(Fixture::answer_kind(*router, "a.ping") == "pong");
  CHECK(Fixture::answer_kind(*router, "ping") == "pong");  // the enabled built-in
  CHECK(router->resolve("user.get")->route == &f.config.routes[1]);
  CHECK(router->resolve("ping")->route == nullptr);
}

TEST_CASE("a route may shadow a built-in of the same name") {
  Fixture f;
  f.config.handlers.enabled = {"ping"};
  f.config.routes = {route(conf::RouteConfig::MatchKind::kMethods, {"ping"}, "", "echo", 2)};
  auto router = f.build();
  REQUIRE(router);
  CHECK(Fixture::answer_kind(*router, "ping") == "echo");
}

TEST_CASE("unknown handler names are refused with file and line") {
  Fixture f;
  f.config.path = "test.yaml";
  f.config.routes = {route(conf::RouteConfig::MatchKind::kPrefix, {}, "x", "nosuch", 9)};
  CHECK_FALSE(f.build());
  CHECK(f.error.find("test.yaml:9") != std::string::npos);
  CHECK(f.error.find("'nosuch'") != std::string::npos);

  Fixture g;
  g.config.path = "test.yaml";
  g.config.handlers.enabled = {"ping", "nope"};
  CHECK_FALSE(g.build());
  CHECK(g.error.find("unknown handler 'nope'") != std::string::npos);
}

TEST_CASE("one handler instance per name, shared by routes and built-ins") {
  Fixture f;
  f.config.handlers.enabled = {"echo"};
  f.config.routes = {route(conf::RouteConfig::MatchKind::kPrefix, {}, "e.", "echo", 1)};
  auto router = f.build();
  REQUIRE(router);
  CHECK(router->resolve("e.x")->handler == router->resolve("echo")->handler);
}

TEST_CASE("pi follows the legacy arithmetic") {
  CHECK(handlers::legacy_pi(-3) == 0.0);
  CHECK(handlers::legacy_pi(0) == doctest::Approx(std::sqrt(8.0)));
  // Two divisions per term, as the legacy Python code does them.
  double sum = 0.0;
  for (int i = 0; i <= 1000; ++i) sum += 1.0 / (2.0 * i + 1) / (2.0 * i + 1);
  CHECK(handlers::legacy_pi(1000) == std::sqrt(8 * sum));
  CHECK(handlers::legacy_pi(1000000) == doctest::Approx(3.14159).epsilon(1e-5));
}

TEST_CASE("pi validates its params") {
  Fixture f;
  f.config.handlers.enabled = {"pi"};
  f.config.handlers.pi_max_terms = 100;
  auto router = f.build();
  REQUIRE(router);
  const Handler* pi = router->resolve("pi")->handler;
  CHECK(pi->blocking());
  auto run = [&](Json params) {
    Request request;
    request.params = std::move(params);
    Response response;
    pi->handle(request, response);
    return response;
  };
  CHECK(run(10).kind == "pi_r");
  CHECK(run(100).result.get<double>() == handlers::legacy_pi(100));
  CHECK(run(101).error == ErrorCode::kBadRequest);
  CHECK(run(1.5).error == ErrorCode::kBadRequest);
  CHECK(run("10").error == ErrorCode::kBadRequest);
  CHECK(run(nullptr).error == ErrorCode::kBadRequest);
  CHECK(run(-7).result.get<double>() == 0.0);
}

TEST_CASE("a route with client identities takes only those clients; the others fall through") {
  using Kind = conf::RouteConfig::MatchKind;
  Fixture f;
  f.config.handlers.enabled = {"echo"};
  f.config.routes = {route(Kind::kMethods, {"get"}, "", "upper", 3), route(Kind::kMethods, {"get"}, "", "ping", 4),
                     route(Kind::kGlob, {}, "*", "time", 5)};
  f.config.routes[0].client_identities = {"alice", "carol"};
  f.config.routes[1].client_identities = {"bob"};
  auto router = f.build();
  REQUIRE(router);
  CHECK(router->resolve("get", "alice")->route == &f.config.routes[0]);
  CHECK(router->resolve("get", "carol")->route == &f.config.routes[0]);
  CHECK(router->resolve("get", "bob")->route == &f.config.routes[1]);
  CHECK(router->resolve("get", "mallory")->route == &f.config.routes[2]);
  CHECK(router->resolve("get", "")->route == &f.config.routes[2]);  // no certificate, no identity
  CHECK(router->resolve("get")->route == &f.config.routes[2]);
  CHECK(router->resolve("get", "Alice")->route == &f.config.routes[2]);  // byte for byte, as logins
  CHECK(router->resolve("set", "alice")->route == &f.config.routes[2]);
}
