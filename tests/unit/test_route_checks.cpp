// Routes and handlers checked against each other and the listeners (conf/route_checks.h): what
// `rpcgate -t` refuses though each value alone is valid, with the line to look at.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "conf/config_loader.h"

using namespace rpcgate::conf;

namespace {

constexpr std::string_view kKnown[] = {"ping", "echo", "time", "pi", "info", "stats", "config"};
constexpr std::string_view kJson = "listeners: [{name: j, address: 127.0.0.1:1, codec: json}]\n";
constexpr std::string_view kResp = "listeners: [{name: r, address: 127.0.0.1:1, codec: resp}]\n";
constexpr std::string_view kCluster = "clusters: [{name: up, codec: json, endpoints: [127.0.0.1:2]}]\n";

std::vector<std::string> problems(std::string_view listeners, std::string_view rest) {
  std::string yaml = std::string(listeners) + std::string(kCluster) + std::string(rest);
  try {
    load_config_string(yaml, "x.yaml", kKnown);
  } catch (const ConfigError& e) {
    return e.messages();
  }
  return {};
}

bool has(const std::vector<std::string>& found, std::string_view line, std::string_view part) {
  for (const auto& message : found)
    if (message.starts_with("x.yaml:" + std::string(line) + ": ") && message.find(part) != std::string::npos)
      return true;
  return false;
}

}  // namespace

TEST_CASE("a config whose every route and handler is reachable passes") {
  CHECK(problems(kResp,
                 "handlers: [ping, info]\n"
                 "routes:\n"
                 "  - {match: {method: pi}, handler: pi}\n"
                 "  - {match: {prefix: legacy.}, cluster: up}\n"
                 "  - {match: {glob: 'get*'}, cluster: up}\n"
                 "  - {match: {method: time}, handler: time}\n")
            .empty());
  // No handlers section: the defaults may sit behind a catch-all, as nobody listed them.
  CHECK(problems(kJson, "routes: [{match: {glob: '*'}, cluster: up}]\n").empty());
}

TEST_CASE("a listed handler that a route takes first is refused at its line") {
  auto found = problems(kJson,
                        "handlers: [echo, time]\n"
                        "routes:\n"
                        "  - {match: {method: time}, handler: time}\n"
                        "  - {match: {glob: '*'}, cluster: up}\n");
  REQUIRE(found.size() == 1);
  CHECK(has(found, "3", "handler 'echo' never answers: the route at line 6 (glob:*) takes method 'echo' first"));
}

TEST_CASE("a route or a method that an earlier route always takes first is refused") {
  auto found = problems(kJson,
                        "handlers: []\n"
                        "routes:\n"
                        "  - {match: {prefix: pi.}, handler: pi}\n"
                        "  - {match: {glob: 'pi.fast*'}, handler: pi}\n"
                        "  - {match: {methods: [ping, pi.x]}, handler: ping}\n"
                        "  - {match: {glob: '*'}, cluster: up}\n"
                        "  - {match: {glob: '*[0-9]'}, cluster: up}\n");
  CHECK(found.size() == 3);
  CHECK(has(found, "6", "this route is never reached: the route at line 5 (prefix:pi.)"));
  CHECK(has(found, "7", "method 'pi.x' never reaches this route: the route at line 5 (prefix:pi.) takes it first"));
  CHECK(has(found, "9", "this route is never reached: the route at line 8 (glob:*)"));
}

TEST_CASE("rpcgate's own INFO method is never routed elsewhere") {
  auto found = problems(kJson, "routes: [{match: {method: rpcgate.info}, cluster: up}]\n");
  REQUIRE(found.size() == 1);
  CHECK(has(found, "3", "rpcgate answers it itself"));
  CHECK(problems(kJson, "routes: [{match: {method: rpcgate.info}, handler: info}]\n").empty());
}

TEST_CASE("nor is the gRPC health check, which rpcgate answers from its readiness") {
  auto found = problems(kJson, "routes: [{match: {method: grpc.health.v1.Health/Check}, cluster: up}]\n");
  REQUIRE(found.size() == 1);
  CHECK(has(found, "3", "rpcgate answers it itself, from its readiness"));
}

TEST_CASE("an upper-case method is refused only when every listener lower-cases names") {
  const std::string_view route = "handlers: []\nroutes: [{match: {methods: [get, GET]}, cluster: up}]\n";
  auto found = problems(kResp, route);
  REQUIRE(found.size() == 1);
  CHECK(has(found, "4",
            "method 'GET' is never asked for: every listener (r: resp) lower-cases method names; write 'get'"));
  CHECK(problems(kJson, route).empty());
  auto prefix = problems(kResp, "routes: [{match: {prefix: Cache.}, cluster: up}]\n");
  REQUIRE(prefix.size() == 1);
  CHECK(has(prefix, "3", "write 'cache.'"));
  CHECK(problems(kResp, "routes: [{match: {glob: '[A-Z]*'}, cluster: up}]\n").empty());
}

TEST_CASE("an unknown handler is reported with the other problems, with a suggestion") {
  auto found = problems(kJson,
                        "handlers: [tiem]\n"
                        "routes: [{match: {method: x}, handler: ehco, retries: 1}]\n");
  REQUIRE(found.size() == 3);
  CHECK(has(found, "3",
            "unknown handler 'tiem' (did you mean 'time'?); known: ping, echo, time, pi, info, stats, config"));
  CHECK(has(found, "4", "unknown handler 'ehco' (did you mean 'echo'?)"));
  CHECK(has(found, "4", "retries applies to routes with a cluster target only"));
}

TEST_CASE("a timeout on a handler route is refused like retries") {
  auto found = problems(kJson, "routes: [{match: {method: x}, handler: echo, timeout: 1s}]\n");
  REQUIRE(found.size() == 1);
  CHECK(has(found, "3", "timeout applies to routes with a cluster target only"));
}

TEST_CASE(
    "client_identity: checked names, shadowing only for the clients named, and a listener that gives identities") {
  auto found = problems(kJson,
                        "routes:\n"
                        "  - {match: {method: get, client_identity: [alice, bob]}, cluster: up}\n"
                        "  - {match: {method: get, client_identity: alice}, handler: echo}\n"
                        "  - {match: {method: get, client_identity: [carol, alice]}, handler: echo}\n"
                        "  - {match: {method: get}, handler: echo}\n"
                        "  - {match: {glob: '*', client_identity: [bob]}, handler: echo}\n"
                        "  - {match: {prefix: a, client_identity: [bob]}, handler: echo}\n"
                        "  - {match: {method: x, client_identity: [dan, dan, '', \"a\\x01\"]}, handler: echo}\n"
                        "  - {match: {client_identity: [dan]}, handler: echo}\n");
  // Route 2 names only clients route 1 takes first; route 3 names carol too, and route 4 any client.
  CHECK(has(found, "5",
            "method 'get' never reaches this route: the route at line 4 (methods:get client_identity:alice,bob)"));
  CHECK_FALSE(has(found, "6", "never reaches"));
  CHECK_FALSE(has(found, "7", "never reaches"));
  CHECK(has(found, "9", "this route is never reached: the route at line 8 (glob:* client_identity:bob)"));
  CHECK(has(found, "10", "identity 'dan' is listed twice"));
  CHECK(has(found, "10", "an identity has 1 to 255 bytes and no control character"));
  CHECK(has(found, "11", "match needs one of: method, methods, prefix, glob"));
  CHECK(has(found, "4", "client_identity: no listener asks for client certificates (tls.client_ca)"));
}
