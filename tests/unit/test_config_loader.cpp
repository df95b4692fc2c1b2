// Configs that load: the shipped default, the original design's example, JSON syntax, every section's
// keys and defaults, and the origins (file and line) recorded for each part.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "conf/config_loader.h"

using namespace rpcgate;
using namespace rpcgate::conf;
using namespace std::chrono_literals;

namespace {

const std::filesystem::path kDefaultConfig = std::filesystem::path(__FILE__).parent_path() / "../../conf/rpcgate.yaml";

// The configuration example of the original design (the one every early user started from), verbatim.
constexpr std::string_view kDesignExample = R"(process:
  model: prefork            # prefork | reuseport | fdpass | single
  workers: auto             # a number, or auto = one per CPU
  drain_timeout: 10s
listeners:
  - {name: resp,  address: 127.0.0.1:6380, codec: resp}
  - {name: json,  address: 127.0.0.1:8080, codec: json, length_byte_order: little}
  - {name: proto, address: 127.0.0.1:8081, codec: protobuf}
admin: {address: 127.0.0.1:9901}
handlers: [ping, echo, time, pi, info]      # built-ins served in-process
routes:                                     # first match wins; then built-ins; else UNKNOWN_METHOD
  - {match: {prefix: "user."}, cluster: users, timeout: 500ms, retries: 1}
  - {match: {methods: [get, set, del, incr]}, cluster: cache}
  # - {match: {glob: "*"}, cluster: cache}  # everything else to Redis: the passthrough sidecar
clusters:
  - name: users
    codec: json
    endpoints: [127.0.0.1:9001, 127.0.0.1:9002]   # or: discovery: {zookeeper: {path: /rpc/users}}
    load_balancer: least_pending
    max_connections: 4          # per endpoint per worker (default 1: pipelining makes one enough)
    pipeline_depth: 32
    connect_timeout: 200ms
    outlier: {consecutive_failures: 5, base_ejection: 10s}
  - {name: cache, codec: resp, endpoints: [127.0.0.1:6379]}
)";

constexpr std::string_view kOneListener = "listeners: [{name: main, address: 127.0.0.1:6380, codec: resp}]\n";

Config load(std::string_view yaml) { return load_config_string(yaml, "t.yaml"); }

std::vector<std::string> names(const Config& config) {
  std::vector<std::string> out;
  for (const auto& listener : config.listeners) out.push_back(listener.name);
  return out;
}

}  // namespace

TEST_CASE("the default conf/rpcgate.yaml loads: three built-in listeners, no upstream") {
  const Config config = load_config_file(kDefaultConfig.string());
  CHECK(config.path == kDefaultConfig.string());
  REQUIRE(config.listeners.size() == 3);
  CHECK(names(config) == std::vector<std::string>{"resp", "json", "proto"});

  const auto& resp = config.listeners[0];
  CHECK(resp.codec == "resp");
  CHECK(resp.address.to_string() == "127.0.0.1:6380");
  const auto& json = config.listeners[1];
  CHECK(json.codec == "json");
  CHECK(json.address.to_string() == "127.0.0.1:8080");
  CHECK(json.codec_options.length_byte_order == codec::ByteOrder::kLittle);
  const auto& proto = config.listeners[2];
  CHECK(proto.codec == "protobuf");
  CHECK(proto.address.to_string() == "127.0.0.1:8081");
  for (const auto& listener : config.listeners) {
    CHECK(codec::find_codec(listener.codec) != nullptr);
    CHECK(listener.origin.file == kDefaultConfig.string());
    CHECK(listener.origin.line > 0);
  }

  CHECK(config.process.model == conf::ProcessModel::kPrefork);
  CHECK(config.handlers.enabled == std::vector<std::string>{"ping", "echo", "time", "pi", "info", "stats", "config"});
  CHECK(config.logging.level == "info");
  CHECK(config.routes.empty());
  CHECK(config.clusters.empty());
  CHECK_FALSE(config.admin.address.has_value());
  CHECK(config.zookeeper.servers.empty());
  // The default must run on this build as it is.
  CHECK(unrunnable_settings(config).empty());
}

TEST_CASE("the original design's example parses into the expected structs") {
  const Config config = load(kDesignExample);
  CHECK(config.path == "t.yaml");

  CHECK(config.process.model == conf::ProcessModel::kPrefork);
  CHECK(config.process.workers == 0);  // auto
  CHECK(config.process.drain_timeout == 10s);
  CHECK(config.process.origin.line == 1);

  REQUIRE(config.listeners.size() == 3);
  CHECK(names(config) == std::vector<std::string>{"resp", "json", "proto"});
  CHECK(config.listeners[0].origin.line == 6);
  CHECK(config.listeners[1].origin.line == 7);
  CHECK(config.listeners[2].origin.line == 8);
  CHECK(config.listeners[1].codec_options.length_byte_order == codec::ByteOrder::kLittle);
  CHECK(config.listeners[2].address.port == 8081);

  REQUIRE(config.admin.address.has_value());
  CHECK(config.admin.address->to_string() == "127.0.0.1:9901");
  CHECK(config.handlers.enabled == std::vector<std::string>{"ping", "echo", "time", "pi", "info"});

  REQUIRE(config.routes.size() == 2);
  const RouteConfig& users_route = config.routes[0];
  CHECK(users_route.kind == RouteConfig::MatchKind::kPrefix);
  CHECK(users_route.pattern == "user.");
  CHECK(users_route.cluster == "users");
  CHECK(users_route.handler.empty());
  CHECK(users_route.timeout == std::optional<Duration>(500ms));
  CHECK(users_route.retries == 1);
  CHECK_FALSE(users_route.idempotent);
  CHECK(users_route.origin.line == 12);
  const RouteConfig& cache_route = config.routes[1];
  CHECK(cache_route.kind == RouteConfig::MatchKind::kMethods);
  CHECK(cache_route.methods == std::vector<std::string>{"get", "set", "del", "incr"});
  CHECK(cache_route.cluster == "cache");
  CHECK_FALSE(cache_route.timeout.has_value());
  CHECK(cache_route.retries == 0);
  CHECK(cache_route.origin.line == 13);

  REQUIRE(config.clusters.size() == 2);
  const ClusterConfig& users = config.clusters[0];
  CHECK(users.name == "users");
  CHECK(users.codec == "json");
  REQUIRE(users.endpoints.size() == 2);
  CHECK(users.endpoints[0].to_string() == "127.0.0.1:9001");
  CHECK(users.endpoints[1].to_string() == "127.0.0.1:9002");
  CHECK(users.zookeeper_path.empty());
  CHECK(users.load_balancer == "least_pending");
  CHECK(users.max_connections == 4);
  CHECK(users.pipeline_depth == 32);
  CHECK(users.connect_timeout == 200ms);
  CHECK(users.request_timeout == 1s);  // default
  CHECK(users.outlier.consecutive_failures == 5);
  CHECK(users.outlier.base_ejection == 10s);
  CHECK(users.outlier.max_ejection == 300s);  // default
  CHECK(users.health_check.method.empty());
  CHECK(users.origin.line == 16);
  const ClusterConfig& cache = config.clusters[1];
  CHECK(cache.name == "cache");
  CHECK(cache.codec == "resp");
  REQUIRE(cache.endpoints.size() == 1);
  CHECK(cache.endpoints[0].port == 6379);
  CHECK(cache.load_balancer == "round_robin");
  CHECK(cache.max_connections == 1);
  CHECK(cache.origin.line == 24);
}

TEST_CASE("JSON is YAML: the same config in JSON syntax") {
  const Config config = load(R"({
  "process": {"model": "single", "workers": 4, "drain_timeout": "2s"},
  "listeners": [
    {"name": "json", "address": "[::1]:8080", "codec": "json", "length_byte_order": "big",
     "max_frame_bytes": 1048576, "max_depth": 32}
  ],
  "handlers": {"enable": ["ping"], "pi_max_terms": 1000},
  "routes": [{"match": {"glob": "*"}, "handler": "ping", "rename": "ping"}],
  "logging": {"level": "debug", "access_log": false}
})");
  CHECK(config.process.workers == 4);
  CHECK(config.process.drain_timeout == 2s);
  REQUIRE(config.listeners.size() == 1);
  const auto& listener = config.listeners[0];
  CHECK(listener.origin.line == 4);
  CHECK(listener.address.host == "::1");
  CHECK(listener.codec_options.length_byte_order == codec::ByteOrder::kBig);
  CHECK(listener.codec_options.limits.max_frame_bytes == 1048576);
  CHECK(listener.codec_options.limits.max_depth == 32);
  CHECK(config.handlers.enabled == std::vector<std::string>{"ping"});
  CHECK(config.handlers.pi_max_terms == 1000);
  REQUIRE(config.routes.size() == 1);
  CHECK(config.routes[0].kind == RouteConfig::MatchKind::kGlob);
  CHECK(config.routes[0].pattern == "*");
  CHECK(config.routes[0].handler == "ping");
  CHECK(config.routes[0].rename == "ping");
  CHECK(config.logging.level == "debug");
}

TEST_CASE("missing sections and keys take the defaults of config.h and codec.h") {
  const Config config = load(kOneListener);
  const ListenerConfig defaults_listener;
  const codec::Limits default_limits;
  const auto& listener = config.listeners.at(0);
  CHECK(listener.max_connections == defaults_listener.max_connections);
  CHECK(listener.idle_timeout == defaults_listener.idle_timeout);
  CHECK(listener.max_pipeline == defaults_listener.max_pipeline);
  CHECK(listener.output_high_water == defaults_listener.output_high_water);
  CHECK(listener.output_limit == defaults_listener.output_limit);
  CHECK(listener.codec_options.limits.max_frame_bytes == default_limits.max_frame_bytes);
  CHECK(listener.codec_options.limits.max_elements == default_limits.max_elements);
  CHECK(listener.codec_options.resp_args == codec::RespArgs::kAuto);

  CHECK(config.process.model == conf::ProcessModel::kPrefork);
  CHECK(config.process.workers == 0);
  CHECK(config.process.drain_timeout == 10s);
  CHECK(config.process.pid_file.empty());
  // No handlers section: the built-ins.
  CHECK(config.handlers.enabled == std::vector<std::string>(std::begin(kDefaultHandlers), std::end(kDefaultHandlers)));
  CHECK(config.handlers.pi_max_terms == HandlersConfig{}.pi_max_terms);
  CHECK(config.logging.level == "info");
  CHECK(config.logging.file.empty());
  CHECK_FALSE(config.logging.access_log);
  CHECK(config.zookeeper.servers.empty());
  CHECK(config.zookeeper.session_timeout == 10s);
  CHECK_FALSE(config.admin.address.has_value());
  CHECK(config.routes.empty());
  CHECK(config.clusters.empty());
}

TEST_CASE("every listener key") {
  const Config config = load(R"(listeners:
  - name: full
    address: 0.0.0.0:6390
    codec: resp
    args: strings
    max_frame_bytes: 1MiB
    max_request_bytes: 2MiB
    max_elements: 1000
    max_depth: 8
    max_inline_bytes: 4KiB
    max_connections: 50
    idle_timeout: 0
    max_pipeline: 16
    output_high_water: 256KiB
    output_limit: 8MiB
)");
  const auto& listener = config.listeners.at(0);
  CHECK(listener.origin.line == 2);
  CHECK(listener.address.to_string() == "0.0.0.0:6390");
  CHECK(listener.codec_options.resp_args == codec::RespArgs::kStrings);
  CHECK(listener.codec_options.limits.max_frame_bytes == 1u << 20);
  CHECK(listener.codec_options.limits.max_request_bytes == 2u << 20);
  CHECK(listener.codec_options.limits.max_elements == 1000);
  CHECK(listener.codec_options.limits.max_depth == 8);
  CHECK(listener.codec_options.limits.max_inline_bytes == 4096);
  CHECK(listener.max_connections == 50);
  CHECK(listener.idle_timeout == 0ms);
  CHECK(listener.max_pipeline == 16);
  CHECK(listener.output_high_water == 256u << 10);
  CHECK(listener.output_limit == 8u << 20);
}

TEST_CASE("every cluster, route, process, logging and zookeeper key") {
  const Config config = load(R"(process: {model: prefork, workers: 2, drain_timeout: 1m30s, pid_file: /run/rpcgate.pid}
listeners: [{name: main, address: 127.0.0.1:6380, codec: resp}]
zookeeper:
  servers: [10.0.0.1:2181, "[fd00::1]:2181"]
  session_timeout: 30s
  chroot: /prod
  register: [{path: /rpc/gateway, listener: main, advertise: gw1.example.com}]
logging: {level: warn, file: /var/log/rpcgate.log, access_log: true, access_log_file: /var/log/access.log, access_log_sample: 10}
clusters:
  - name: kv
    codec: resp
    args: strings
    discovery: {zookeeper: {path: /rpc/kv, prefix: redis-}}
    load_balancer: consistent_hash
    hash_key: params.0
    max_connections: 2
    pipeline_depth: 100
    max_pending: 500
    connect_timeout: 1s
    request_timeout: 2.5s
    retries: 2
    outlier: {consecutive_failures: 0, base_ejection: 1s, max_ejection: 1m}
    health_check: {method: ping, interval: 2s, timeout: 500ms, healthy_threshold: 1, unhealthy_threshold: 5}
  - name: legacy
    codec: json
    length_byte_order: big
    endpoints: [127.0.0.1:9001]
routes:
  - {match: {method: user.get}, cluster: legacy, rename: get_user, kind: user_r, idempotent: true, retries: 3}
  - {match: {prefix: kv.}, cluster: kv, timeout: 100ms}
  - {match: {glob: "debug.*"}, handler: info}
)");
  CHECK(config.process.workers == 2);
  CHECK(config.process.drain_timeout == 90s);
  CHECK(config.process.pid_file == "/run/rpcgate.pid");

  REQUIRE(config.zookeeper.servers.size() == 2);
  CHECK(config.zookeeper.servers[1].to_string() == "[fd00::1]:2181");
  CHECK(config.zookeeper.session_timeout == 30s);
  CHECK(config.zookeeper.chroot == "/prod");
  REQUIRE(config.zookeeper.registrations.size() == 1);
  CHECK(config.zookeeper.registrations[0].path == "/rpc/gateway");
  CHECK(config.zookeeper.registrations[0].listener == "main");
  CHECK(config.zookeeper.registrations[0].advertise == "gw1.example.com");
  CHECK(config.zookeeper.origin.line == 3);

  CHECK(config.logging.level == "warn");
  CHECK(config.logging.file == "/var/log/rpcgate.log");
  CHECK(config.logging.access_log);
  CHECK(config.logging.access_log_file == "/var/log/access.log");
  CHECK(config.logging.access_log_sample == 10);

  REQUIRE(config.clusters.size() == 2);
  const ClusterConfig& kv = config.clusters[0];
  CHECK(kv.endpoints.empty());
  CHECK(kv.zookeeper_path == "/rpc/kv");
  CHECK(kv.codec_options.resp_args == codec::RespArgs::kStrings);
  CHECK(kv.load_balancer == "consistent_hash");
  CHECK(kv.hash_key == "params.0");
  CHECK(kv.max_connections == 2);
  CHECK(kv.pipeline_depth == 100);
  CHECK(kv.max_pending == 500);
  CHECK(kv.connect_timeout == 1s);
  CHECK(kv.request_timeout == 2500ms);
  CHECK(kv.retries == 2);
  CHECK(kv.outlier.consecutive_failures == 0);
  CHECK(kv.outlier.base_ejection == 1s);
  CHECK(kv.outlier.max_ejection == 1min);
  CHECK(kv.health_check.method == "ping");
  CHECK(kv.health_check.interval == 2s);
  CHECK(kv.health_check.timeout == 500ms);
  CHECK(kv.health_check.healthy_threshold == 1);
  CHECK(kv.health_check.unhealthy_threshold == 5);
  CHECK(config.clusters[1].codec_options.length_byte_order == codec::ByteOrder::kBig);

  REQUIRE(config.routes.size() == 3);
  CHECK(config.routes[0].kind == RouteConfig::MatchKind::kMethods);
  CHECK(config.routes[0].methods == std::vector<std::string>{"user.get"});
  CHECK(config.routes[0].rename == "get_user");
  CHECK(config.routes[0].answer_kind == "user_r");
  CHECK(config.routes[0].idempotent);
  CHECK(config.routes[0].retries == 3);
  CHECK(config.routes[1].pattern == "kv.");
  CHECK(config.routes[1].timeout == std::optional<Duration>(100ms));
  CHECK(config.routes[2].pattern == "debug.*");
  CHECK(config.routes[2].handler == "info");
}

TEST_CASE("an empty file or empty sections fall back to defaults, then fail only for listeners") {
  for (std::string_view text : {"", "# only a comment\n", "---\n", "{}"}) {
    CAPTURE(text);
    try {
      load(text);
      FAIL("expected a ConfigError");
    } catch (const ConfigError& e) {
      REQUIRE(e.messages().size() == 1);
      CHECK(e.messages()[0] ==
            "t.yaml:1: listeners: at least one listener is required, such as "
            "{name: resp, address: 127.0.0.1:6380, codec: resp}");
    }
  }
  const Config config =
      load(std::string(kOneListener) + "process:\nadmin:\nhandlers:\nroutes:\nclusters:\nlogging:\nzookeeper:\n");
  CHECK(config.process.model == conf::ProcessModel::kPrefork);
  CHECK_FALSE(config.admin.address.has_value());
  CHECK(config.handlers.enabled.size() == std::size(kDefaultHandlers));
  CHECK(config.routes.empty());
  CHECK(config.clusters.empty());
  // An explicit empty list serves no built-in at all.
  CHECK(load(std::string(kOneListener) + "handlers: []\n").handlers.enabled.empty());
  CHECK(load(std::string(kOneListener) + "handlers: {pi_max_terms: 5}\n").handlers.enabled.size() ==
        std::size(kDefaultHandlers));
}

TEST_CASE("origins: every key and list item is recorded by path, both handlers shapes alike") {
  const Config config = load(R"(listeners:
  - name: a
    address: 127.0.0.1:1
    codec: json
process:
  model: single
handlers:
  - ping
  - echo
)");
  CHECK(config.origin_of("listeners").line == 1);
  CHECK(config.origin_of("listeners[0]").line == 2);
  CHECK(config.origin_of("listeners[0].codec").line == 4);
  CHECK(config.origin_of("process.model").line == 6);
  CHECK(config.origin_of("handlers.enable[1]").line == 9);
  CHECK(config.origin_of("handlers.enable[1]").describe() == "t.yaml:9");
  CHECK(config.origin_of("logging.file").line == 0);
  CHECK(config.origin_of("logging.file").describe() == "t.yaml");

  const Config mapped = load(std::string(kOneListener) + "handlers:\n  enable: [ping,\n    echo]\n");
  CHECK(mapped.origin_of("handlers.enable[0]").line == 3);
  CHECK(mapped.origin_of("handlers.enable[1]").line == 4);
}

TEST_CASE("YAML conveniences: anchors, merge keys, x- keys, quoting, booleans") {
  const Config config = load(R"(x-limits: &small {max_frame_bytes: 64KiB, max_depth: 8}
listeners:
  - {<<: *small, name: a, address: 127.0.0.1:1, codec: json}
  - {<<: *small, name: b, address: 127.0.0.1:2, codec: json, max_depth: 16}
  - {name: "c", address: "127.0.0.1:3", codec: 'resp', max_connections: "7"}
logging: {access_log: False}
)");
  REQUIRE(config.listeners.size() == 3);
  CHECK(config.listeners[0].codec_options.limits.max_frame_bytes == 64u << 10);
  CHECK(config.listeners[0].codec_options.limits.max_depth == 8);
  CHECK(config.listeners[1].codec_options.limits.max_depth == 16);  // a written key wins
  CHECK(config.listeners[2].max_connections == 7);
  CHECK_FALSE(config.logging.access_log);
}

TEST_CASE("wildcard and distinct addresses: what may share a port") {
  // Different hosts on one port, and IPv4 loopback beside IPv6 loopback, can all be bound.
  const Config config = load(R"(listeners:
  - {name: a, address: 127.0.0.1:7000, codec: resp}
  - {name: b, address: 127.0.0.2:7000, codec: resp}
  - {name: c, address: "[::1]:7000", codec: resp}
admin: {address: 127.0.0.1:7001}
)");
  CHECK(config.listeners.size() == 3);
}

TEST_CASE("load_config_file reads a real file") {
  const auto path = std::filesystem::temp_directory_path() / "rpcgate_test_config_loader.yaml";
  {
    std::ofstream out(path);
    out << kOneListener;
  }
  const Config config = load_config_file(path.string());
  CHECK(config.path == path.string());
  CHECK(config.listeners.at(0).origin.describe() == path.string() + ":1");
  std::filesystem::remove(path);
}
