// Configs that must be refused: for each class of mistake, the message says what is expected and
// names the right file and line.
#include <doctest/doctest.h>

#include <filesystem>
#include <initializer_list>

#include "conf/config_loader.h"

using namespace rpcgate::conf;

namespace {

// A valid first line, so that a case's own lines start at 2.
constexpr std::string_view kListener = "listeners: [{name: a, address: 127.0.0.1:1, codec: json}]\n";

std::vector<std::string> problems(std::string_view yaml) {
  try {
    load_config_string(yaml, "bad.yaml");
  } catch (const ConfigError& e) {
    return e.messages();
  }
  return {};
}

std::string with_listener(std::string_view rest) { return std::string(kListener) + std::string(rest); }

// `yaml` is refused with exactly one problem: at `line`, containing each of `parts`.
void check_problem(std::string_view yaml, int line, std::initializer_list<std::string_view> parts) {
  CAPTURE(yaml);
  const auto found = problems(yaml);
  REQUIRE(found.size() == 1);
  const std::string& message = found[0];
  CAPTURE(message);
  CHECK(message.starts_with("bad.yaml:" + std::to_string(line) + ": "));
  for (auto part : parts) {
    CAPTURE(part);
    CHECK(message.find(part) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("YAML syntax errors name their line") {
  check_problem("listeners:\n  - name: a\n    codec: json\n   address: 127.0.0.1:1\n", 4, {"YAML syntax error"});
  check_problem(with_listener("process: {model: single\nlogging: {}\n"), 3,
                {"YAML syntax error", "end of map flow not found"});
  check_problem(with_listener("routes: [\n  {match: {glob: a}, handler: ping},\n"), 4, {"YAML syntax error"});
  check_problem(with_listener("process:\n\tmodel: single\n"), 3, {"YAML syntax error"});
}

TEST_CASE("absurd nesting is refused before it can exhaust the stack") {
  // yaml-cpp stops at a fixed depth; its mark is not always on the nesting's own line, so only the
  // file is checked here.
  const std::string deep = "listeners:\n  - " + std::string(5000, '[') + std::string(5000, ']') + "\n";
  const auto found = problems(deep);
  REQUIRE(found.size() == 1);
  CHECK(found[0].starts_with("bad.yaml:"));
  CHECK(found[0].ends_with(": YAML nesting too deep (lists and mappings within each other)"));
}

TEST_CASE("the file must be one mapping of known sections") {
  check_problem("- listeners\n- process\n", 1, {"expected a mapping for the file", "got a list"});
  check_problem("just text\n", 1, {"expected a mapping for the file", "got 'just text'"});
  check_problem(with_listener("listner: []\n"), 2,
                {"unknown key 'listner' in the file (did you mean 'listeners'?); expected one of: "
                 "process, listeners, admin, handlers, routes, clusters, logging, zookeeper"});
  check_problem(with_listener("logging: {}\n---\nlogging: {}\n"), 4, {"a second YAML document"});
  // yaml-cpp 0.7's LoadAll never returned on this (found by fuzz_config); Load refuses it.
  check_problem("!:,!\n", 1, {"expected a mapping for the file"});
  CHECK(problems(std::string("---\n") + with_listener("") + "---\n# trailing marker\n").empty());
  check_problem(with_listener("? [a, b]\n: 1\n"), 2, {"a key must be a name, got a list"});
}

TEST_CASE("unknown keys name the key's line, a likely meaning and the allowed keys") {
  const auto found = problems("listeners:\n  - name: a\n    adress: 127.0.0.1:1\n    codec: json\n");
  REQUIRE(found.size() == 2);
  CHECK(found[0] == "bad.yaml:2: listeners[0]: missing required key 'address'");
  CHECK(found[1] ==
        "bad.yaml:3: listeners[0]: unknown key 'adress' in listener (did you mean 'address'?); "
        "expected one of: name, address, codec, max_frame_bytes, max_depth, max_connections, "
        "idle_timeout, max_pipeline, output_high_water, output_limit, auth, tls, "
        // then the keys the codecs declare (CodecInfo::options), in registry order
        "length_byte_order, args, max_request_bytes, max_elements, max_inline_bytes, descriptors, unwrap, "
        "max_message_bytes, max_concurrent_streams, max_header_list_bytes, initial_window_bytes, "
        "max_pending_bytes, max_resets, resets_per_second");

  check_problem(with_listener("process:\n  model: single\n  worker: 4\n"), 4,
                {"process: unknown key 'worker' in process (did you mean 'workers'?)"});
  check_problem(with_listener("logging: {level: info, colour: true}\n"), 2,
                {"unknown key 'colour' in logging; expected one of: level, file, access_log, access_log_file, "
                 "access_log_sample"});
  check_problem(with_listener("routes:\n  - match: {method: a}\n    handler: ping\n    timout: 1s\n"), 5,
                {"routes[0]: unknown key 'timout' in route (did you mean 'timeout'?)"});
  // A misspelt key also leaves what it should have given missing: both are said.
  const auto misspelt = problems(with_listener("routes:\n  - match: {methd: a}\n    handler: ping\n"));
  REQUIRE(misspelt.size() == 2);
  CHECK(
      misspelt[0].starts_with("bad.yaml:3: routes[0].match: unknown key 'methd' in match (did you "
                              "mean 'method'?)"));
  CHECK(misspelt[1] == "bad.yaml:3: routes[0].match: match needs one of: method, methods, prefix, glob");
  check_problem(with_listener("clusters:\n  - name: c\n    codec: json\n    endpoints: [127.0.0.1:2]\n"
                              "    outlier: {consecutive_failure: 3}\n"),
                6, {"unknown key 'consecutive_failure' in outlier (did you mean 'consecutive_failures'?)"});
  check_problem(with_listener("handlers: {enable: [ping], pi_max: 10}\n"), 2, {"unknown key 'pi_max' in handlers"});
}

TEST_CASE("repeated keys") {
  check_problem(with_listener("process:\n  model: single\n  drain_timeout: 1s\n  model: single\n"), 5,
                {"process: duplicate key 'model' (first at line 3)"});
}

TEST_CASE("wrong types say what was expected") {
  check_problem(with_listener("process: {workers: many}\n"), 2,
                {"process.workers: expected a number of workers from 1 to 1024 or auto (one per CPU), "
                 "got 'many'"});
  check_problem(with_listener("process: {workers: 0}\n"), 2, {"from 1 to 1024 or auto", "got '0'"});
  check_problem(with_listener("process: {workers: [1]}\n"), 2, {"process.workers", "got a list"});
  check_problem(with_listener("process: {model: prefrok}\n"), 2,
                {"process.model: unknown value 'prefrok' (did you mean 'prefork'?); expected one of: "
                 "prefork, reuseport, fdpass, threads, fork, single"});
  check_problem(with_listener("process: single\n"), 2, {"process: expected a mapping for process", "got 'single'"});
  check_problem(with_listener("listeners2: 1\n"), 2, {"unknown key 'listeners2'"});
  check_problem("listeners: {name: a, address: 127.0.0.1:1, codec: json}\n", 1,
                {"listeners: expected a list", "got a mapping"});
  check_problem("listeners:\n  - name:\n    address: 127.0.0.1:1\n    codec: json\n", 2,
                {"listeners[0].name: expected a string, got nothing"});
  check_problem("listeners:\n  - name: [a]\n    address: 127.0.0.1:1\n    codec: json\n", 2,
                {"listeners[0].name: expected a string, got a list"});
  check_problem("listeners:\n  - name: ''\n    address: 127.0.0.1:1\n    codec: json\n", 2,
                {"expected a non-empty string"});
  check_problem(with_listener("logging: {access_log: yes}\n"), 2,
                {"logging.access_log: expected true or false, got 'yes'"});
  check_problem(with_listener("logging: {access_log: true}\n"), 2,
                {"logging.access_log: access_log needs access_log_file: PATH"});
  check_problem(with_listener("logging: {access_log: true, access_log_file: a.log, access_log_sample: 0}\n"), 2,
                {"logging.access_log_sample"});
  check_problem(with_listener("logging:\n  level: verbose\n"), 3,
                {"logging.level: unknown value 'verbose'; expected one of: debug, info, warn, error"});
  check_problem(with_listener("handlers: ping\n"), 2, {"handlers: expected a list of handler names", "got 'ping'"});
  check_problem(with_listener("handlers: {enable: ping}\n"), 2, {"handlers.enable: expected a list", "got 'ping'"});
  check_problem(with_listener("handlers: {pi_max_terms: 0}\n"), 2,
                {"handlers.pi_max_terms: expected an integer from 1 to 9223372036854775807, got '0'"});
  check_problem(with_listener("admin: 127.0.0.1:9901\n"), 2,
                {"admin: expected a mapping for admin", "got '127.0.0.1:9901'"});
  check_problem(with_listener("logging: {<<: 5}\n"), 2,
                {"a merge key '<<' takes a mapping or a list of mappings, got '5'"});
}

TEST_CASE("listeners: addresses, codecs, names, ranges and uniqueness") {
  check_problem("listeners:\n  - {name: a, address: 127.0.0.1:70000, codec: json}\n", 2,
                {"listeners[0].address: bad address '127.0.0.1:70000': port '70000' is not a number "
                 "from 1 to 65535"});
  check_problem("listeners:\n  - {name: a, address: localhost:80, codec: json}\n", 2,
                {"'localhost' is a host name; write an IP address"});
  check_problem("listeners:\n  - {name: a, address: '::1:80', codec: json}\n", 2, {"an IPv6 address needs brackets"});
  check_problem("listeners:\n  - {name: a, address: 127.0.0.1:1, codec: jsn}\n", 2,
                {"listeners[0].codec: unknown codec 'jsn' (did you mean 'json'?); expected one of: "
                 "json, resp, protobuf, grpc"});
  check_problem("listeners:\n  - {name: a, address: 127.0.0.1:1, codec: thrift}\n", 2,
                {"unknown codec 'thrift'; expected one of: json, resp, protobuf, grpc"});
  check_problem(
      "listeners:\n  - name: a\n    address: 127.0.0.1:1\n    codec: resp\n"
      "    length_byte_order: big\n",
      5,
      {"listeners[0].length_byte_order: length_byte_order applies to the json codec "
       "only; this listener's codec is resp"});
  check_problem("listeners:\n  - {name: a, address: 127.0.0.1:1, codec: json, args: strings}\n", 2,
                {"args applies to the resp codec only; this listener's codec is json"});
  check_problem("listeners:\n  - {name: a, address: 127.0.0.1:1, codec: protobuf, max_elements: 5}\n", 2,
                {"max_elements applies to the resp codec only"});
  check_problem("listeners:\n  - {name: a, address: 127.0.0.1:1, codec: json, length_byte_order: middle}\n", 2,
                {"unknown value 'middle'; expected one of: little, big"});
  check_problem("listeners:\n  - {name: 'my listener', address: 127.0.0.1:1, codec: json}\n", 2,
                {"listeners[0].name: bad name 'my listener'"});
  CHECK(problems("listeners:\n  - {address: 127.0.0.1:1}\n") ==
        std::vector<std::string>{"bad.yaml:2: listeners[0]: missing required key 'name'",
                                 "bad.yaml:2: listeners[0]: missing required key 'codec'"});
  check_problem("listeners:\n  - a\n", 2, {"listeners[0]: expected a mapping for listener", "got 'a'"});
  check_problem("listeners: []\n", 1, {"listeners: at least one listener is required"});
  check_problem("listeners:\n", 1, {"listeners: at least one listener is required"});
  check_problem("process: {}\n", 1, {"listeners: at least one listener is required"});

  check_problem(with_listener("listeners:\n  - {name: b, address: 127.0.0.1:2, codec: json}\n"), 2,
                {"duplicate key 'listeners' (first at line 1)"});
  check_problem(
      "listeners:\n  - {name: a, address: 127.0.0.1:1, codec: json}\n"
      "  - {name: a, address: 127.0.0.1:2, codec: json}\n",
      3, {"listeners[1].name: duplicate listener name 'a' (line 2)"});
  check_problem(
      "listeners:\n  - {name: a, address: 127.0.0.1:1, codec: json}\n"
      "  - {name: b, address: 127.0.0.1:1, codec: resp}\n",
      3,
      {"listeners[1].address: 127.0.0.1:1 overlaps the address of listener 'a' "
       "(127.0.0.1:1, line 2): both cannot be bound"});
  check_problem(
      "listeners:\n  - {name: a, address: 127.0.0.1:1, codec: json}\n"
      "  - {name: b, address: 0.0.0.0:1, codec: resp}\n",
      3, {"0.0.0.0:1 overlaps the address of listener 'a'"});
  check_problem(
      "listeners:\n  - {name: a, address: 127.0.0.1:1, codec: json}\n"
      "  - {name: b, address: '[::]:1', codec: resp}\n",
      3, {"[::]:1 overlaps"});
  check_problem(
      "listeners:\n  - {name: a, address: '[::1]:1', codec: json}\n"
      "  - {name: b, address: '[0::1]:1', codec: resp}\n",
      3, {"[::1]:1 overlaps"});
}

TEST_CASE("numbers out of range and malformed sizes and durations") {
  auto listener_with = [](std::string_view key_value) {
    return "listeners:\n  - name: a\n    address: 127.0.0.1:1\n    codec: resp\n    " + std::string(key_value) + "\n";
  };
  const struct {
    const char* line;
    const char* expected;
  } cases[] = {
      {"max_connections: -5", "listeners[0].max_connections: expected an integer from 1 to 1000000, got '-5'"},
      {"max_connections: 0", "expected an integer from 1 to 1000000, got '0'"},
      {"max_connections: 1e3", "got '1e3'"},
      {"max_connections: 99999999999999999999999", "got '99999999999999999999999'"},
      {"max_pipeline: 2.5", "listeners[0].max_pipeline: expected an integer from 1 to 1000000"},
      {"max_depth: 5000", "max_depth: expected an integer from 1 to 1024, got '5000'"},
      {"max_elements: 4294967296", "expected an integer from 1 to 2147483647"},
      {"max_frame_bytes: 16MB",
       "max_frame_bytes: expected a byte size from 1 to 4294967295, such as 65536, 64KiB or 16MiB; "
       "got '16MB' (units are binary and case-sensitive: KiB = 1024, MiB = 2^20, GiB = 2^30 "
       "bytes)"},
      {"max_frame_bytes: 16mib", "(units are binary and case-sensitive"},
      {"max_frame_bytes: 0", "got '0'"},
      {"max_frame_bytes: 4GiB", "from 1 to 4294967295, such as 65536, 64KiB or 16MiB; got '4GiB'"},
      {"max_frame_bytes: lots", "got 'lots'"},
      {"max_inline_bytes: 2TiB", "expected a byte size from 1 to 1099511627776 (1TiB)"},
      {"idle_timeout: 300",
       "listeners[0].idle_timeout: expected a duration such as 250ms, 10s, 1m or "
       "1h, got '300' (a number needs a unit: 300ms or 300s?)"},
      {"idle_timeout: -1s", "got '-1s' (durations cannot be negative)"},
      {"idle_timeout: 5 minutes", "got '5 minutes'"},
      {"idle_timeout: 0.5ms", "got '0.5ms'"},
      {"output_high_water: 128MiB",
       "listeners[0].output_high_water: output_high_water (128MiB) must not exceed output_limit "
       "(64MiB)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.line);
    check_problem(listener_with(c.line), 5, {c.expected});
  }
  check_problem(with_listener("process: {drain_timeout: 10}\n"), 2, {"a number needs a unit"});
}

TEST_CASE("routes: one match kind, one target, a defined cluster") {
  const std::string clusters = "clusters:\n  - {name: users, codec: json, endpoints: [127.0.0.1:9001]}\n";  // lines 2-3
  check_problem(with_listener(clusters + "routes:\n  - {match: {}, cluster: users}\n"), 5,
                {"routes[0].match: match needs one of: method, methods, prefix, glob"});
  check_problem(with_listener(clusters + "routes:\n  - {match: {prefix: a, glob: 'b*'}, cluster: users}\n"), 5,
                {"match takes exactly one of: method, methods, prefix, glob; got prefix, glob"});
  check_problem(with_listener(clusters + "routes:\n  - {match: user.get, cluster: users}\n"), 5,
                {"routes[0].match: expected a mapping for match", "got 'user.get'"});
  check_problem(with_listener(clusters + "routes:\n  - {cluster: users}\n"), 5,
                {"routes[0]: missing required key 'match'"});
  check_problem(with_listener(clusters + "routes:\n  - {match: {method: a}}\n"), 5,
                {"routes[0]: missing a target: handler: NAME or cluster: NAME"});
  check_problem(with_listener(clusters + "routes:\n  - match: {method: a}\n    handler: ping\n"
                                         "    cluster: users\n"),
                7, {"routes[0]: a route has one target: handler or cluster, not both"});
  check_problem(with_listener(clusters + "routes:\n  - {match: {methods: []}, cluster: users}\n"), 5,
                {"routes[0].match.methods: expected at least one method name"});
  check_problem(with_listener(clusters + "routes:\n  - {match: {methods: [get, set, get]}, cluster: users}\n"), 5,
                {"routes[0].match.methods[2]: method 'get' is listed twice"});
  check_problem(with_listener(clusters + "routes:\n  - {match: {prefix: ''}, cluster: users}\n"), 5,
                {"routes[0].match.prefix: expected a non-empty string"});
  check_problem(with_listener(clusters + "routes:\n  - {match: {method: a}, cluster: users, timeout: 0}\n"), 5,
                {"routes[0].timeout: must be greater than 0"});
  check_problem(with_listener(clusters + "routes:\n  - {match: {method: a}, cluster: users, retries: 11}\n"), 5,
                {"routes[0].retries: expected an integer from 0 to 10, got '11'"});
  check_problem(with_listener(clusters + "routes:\n  - match: {method: a}\n    handler: ping\n"
                                         "    idempotent: true\n"),
                7, {"routes[0].idempotent: idempotent applies to routes with a cluster target only"});

  // The unknown cluster is reported at the line of the route's `cluster` key.
  check_problem(with_listener(clusters + "routes:\n  - match: {prefix: user.}\n    timeout: 1s\n"
                                         "    cluster: userz\n"),
                7,
                {"routes[0].cluster: no cluster named 'userz' (did you mean 'users'?); defined "
                 "clusters: users"});
  check_problem(with_listener("routes:\n  - {match: {prefix: user.}, cluster: users}\n"), 3,
                {"no cluster named 'users'; the clusters section defines none"});
}

TEST_CASE("clusters: endpoints or discovery, balancing, timeouts, ejection, health checks") {
  auto cluster_with = [](std::string_view lines) {
    return with_listener("clusters:\n  - name: c\n    codec: json\n" + std::string(lines));
  };  // the cluster item is line 3; the given lines start at 5
  check_problem(cluster_with(""), 3,
                {"clusters[0]: missing endpoints: give endpoints: [HOST:PORT, ...] or discovery: "
                 "{zookeeper: {path: /PATH}}"});
  check_problem(cluster_with("    endpoints: [127.0.0.1:1]\n    discovery: {zookeeper: {path: /a}}\n"), 6,
                {"clusters[0]: give either endpoints or discovery, not both"});
  check_problem(cluster_with("    endpoints: []\n"), 5, {"clusters[0].endpoints: expected at least one HOST:PORT"});
  check_problem(cluster_with("    endpoints:\n      - 127.0.0.1:2\n      - db.local:5432\n"), 7,
                {"clusters[0].endpoints[1]: bad address 'db.local:5432': 'db.local' is a host name"});
  check_problem(cluster_with("    endpoints:\n      - 127.0.0.1:2\n      - 127.0.0.1:2\n"), 7,
                {"clusters[0].endpoints[1]: 127.0.0.1:2 is listed twice (line 6)"});
  check_problem(cluster_with("    endpoints: [127.0.0.1:2]\n    load_balancer: least_pendng\n"), 6,
                {"clusters[0].load_balancer: unknown value 'least_pendng' (did you mean "
                 "'least_pending'?); expected one of: round_robin, random, least_pending, "
                 "consistent_hash"});
  check_problem(cluster_with("    endpoints: [127.0.0.1:2]\n    hash_key: params.id\n"), 6,
                {"hash_key applies to load_balancer: consistent_hash only"});
  check_problem(cluster_with("    endpoints: [127.0.0.1:2]\n    password: x\n"), 6,
                {"clusters[0].password: password applies to the resp codec only (Redis AUTH); this "
                 "cluster's codec is json"});
  check_problem(cluster_with("    endpoints: [127.0.0.1:2]\n    load_balancer: consistent_hash\n"
                             "    hash_key: id\n"),
                7, {"bad hash_key 'id': expected params or a path into them such as params.id"});
  check_problem(cluster_with("    endpoints: [127.0.0.1:2]\n    load_balancer: consistent_hash\n"
                             "    hash_key: params..id\n"),
                7, {"bad hash_key 'params..id'"});
  check_problem(cluster_with("    endpoints: [127.0.0.1:2]\n    connect_timeout: 0\n"), 6,
                {"clusters[0].connect_timeout: must be greater than 0"});
  check_problem(cluster_with("    endpoints: [127.0.0.1:2]\n    max_connections: 0\n"), 6,
                {"clusters[0].max_connections: expected an integer from 1 to 1024, got '0'"});
  check_problem(cluster_with("    endpoints: [127.0.0.1:2]\n    outlier: {base_ejection: 1m, max_ejection: 10s}\n"), 6,
                {"clusters[0].outlier.max_ejection: max_ejection (10s) must not be shorter than "
                 "base_ejection (1m)"});
  check_problem(cluster_with("    endpoints: [127.0.0.1:2]\n    health_check: {interval: 1s}\n"), 6,
                {"clusters[0].health_check: missing required key 'method'"});
  check_problem(cluster_with("    endpoints: [127.0.0.1:2]\n    health_check:\n      method: ping\n"
                             "      interval: 1s\n      timeout: 2s\n"),
                9, {"clusters[0].health_check.timeout: timeout (2s) must not exceed interval (1s)"});
  check_problem(cluster_with("    endpoints: [127.0.0.1:2]\n    health_check: {method: ping, healthy_threshold: 0}\n"),
                6, {"healthy_threshold: expected an integer from 1 to 1000, got '0'"});
  check_problem(cluster_with("    endpoints: [127.0.0.1:2]\n    length_byte_order: big\n    args: auto\n"), 7,
                {"clusters[0].args: args applies to the resp codec only; this cluster's codec is json"});
  check_problem(cluster_with("    discovery: {zookeeper: {path: rpc/c}}\nzookeeper: {servers: [127.0.0.1:2181]}\n"), 5,
                {"clusters[0].discovery.zookeeper.path: bad ZooKeeper path 'rpc/c'"});
  check_problem(cluster_with("    discovery: {zookeeper: {path: /rpc/c}}\n"), 5,
                {"clusters[0].discovery: ZooKeeper discovery needs servers: add zookeeper: "
                 "{servers: [HOST:PORT, ...]}"});
  check_problem(cluster_with("    discovery: {zookeeper: {}}\nzookeeper: {servers: [127.0.0.1:2181]}\n"), 5,
                {"clusters[0].discovery.zookeeper: missing required key 'path'"});
  CHECK(
      problems(cluster_with("    discovery: {consul: {}}\n")) ==
      std::vector<std::string>{"bad.yaml:5: clusters[0].discovery: unknown key 'consul' in discovery; expected one of: "
                               "zookeeper",
                               "bad.yaml:5: clusters[0].discovery: missing required key 'zookeeper'"});
  check_problem(with_listener("clusters:\n  - {name: c, codec: json, endpoints: [127.0.0.1:2]}\n"
                              "  - {name: c, codec: resp, endpoints: [127.0.0.1:3]}\n"),
                4, {"clusters[1].name: duplicate cluster name 'c' (line 3)"});
  check_problem(with_listener("clusters:\n  - {name: c, endpoints: [127.0.0.1:2]}\n"), 3,
                {"clusters[0]: missing required key 'codec'"});
}

TEST_CASE("handlers, admin, zookeeper") {
  check_problem(with_listener("handlers:\n  - ping\n  - echo\n  - ping\n"), 5,
                {"handlers.enable[2]: handler 'ping' is listed twice (line 3)"});
  check_problem(with_listener("handlers: {enable: [pi, pi]}\n"), 2,
                {"handlers.enable[1]: handler 'pi' is listed twice (line 2)"});
  check_problem(with_listener("admin: {latency_histograms: maybe}\n"), 2, {"admin.latency_histograms"});
  check_problem(with_listener("admin: {address: 127.0.0.1:1}\n"), 2,
                {"admin.address: 127.0.0.1:1 overlaps the address of listener 'a' (line 1)"});
  check_problem(with_listener("zookeeper:\n  register: [{path: /rpc/gateway, listener: a}]\n"), 2,
                {"zookeeper.register: register needs zookeeper servers to register with"});
  check_problem(with_listener("zookeeper: {servers: [127.0.0.1:2181], chroot: /rpc/}\n"), 2,
                {"bad ZooKeeper path '/rpc/'"});
  check_problem(with_listener("zookeeper: {servers: [127.0.0.1:2181], register: [{path: /rpc/, listener: a}]}\n"), 2,
                {"bad ZooKeeper path '/rpc/'"});
  check_problem(with_listener("zookeeper:\n  servers: [127.0.0.1:2181]\n  register: [{path: /demo, listener: b}]\n"), 4,
                {"zookeeper.register[0].listener: no listener named 'b'", "defined listeners: a"});
  check_problem(
      with_listener(
          "zookeeper: {servers: [127.0.0.1:2181], register: [{path: /demo, listener: a, advertise: 'a b'}]}\n"),
      2, {"bad advertise host 'a b'"});
  check_problem(
      "listeners: [{name: a, address: 0.0.0.0:1, codec: json}]\n"
      "zookeeper:\n  servers: [127.0.0.1:2181]\n  register: [{path: /demo, listener: a}]\n",
      4, {"listens on every address (0.0.0.0); say which one clients should use: advertise: HOST"});

  check_problem(with_listener("zookeeper: {servers: [127.0.0.1:2181], session_timeout: 0}\n"), 2,
                {"zookeeper.session_timeout: must be at least 100ms, got 0"});
}

TEST_CASE("every problem is reported, in line order, and what() joins them") {
  const std::string yaml =
      "listeners:\n"                                            // 1
      "  - {name: a, address: 127.0.0.1:70000, codec: json}\n"  // 2
      "  - {name: b, address: 127.0.0.1:2, codec: jsn}\n"       // 3
      "process: {workers: many}\n"                              // 4
      "routes:\n"                                               // 5
      "  - {match: {method: x}, cluster: nowhere}\n"            // 6
      "logging: {level: loud}\n";                               // 7
  try {
    load_config_string(yaml, "multi.yaml");
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    REQUIRE(e.messages().size() == 5);
    const char* prefixes[] = {"multi.yaml:2: listeners[0].address", "multi.yaml:3: listeners[1].codec",
                              "multi.yaml:4: process.workers", "multi.yaml:6: routes[0].cluster",
                              "multi.yaml:7: logging.level"};
    for (size_t i = 0; i < 5; ++i) {
      CAPTURE(i);
      CHECK(e.messages()[i].starts_with(prefixes[i]));
    }
    std::string joined;
    for (const auto& message : e.messages()) joined += (joined.empty() ? "" : "\n") + message;
    CHECK(std::string(e.what()) == joined);
  }
}

TEST_CASE("a flood of problems is cut short in what() but kept whole in messages()") {
  std::string yaml = "listeners:\n";
  for (int i = 0; i < 60; ++i) yaml += "  - {name: l" + std::to_string(i) + ", address: x, codec: json}\n";
  try {
    load_config_string(yaml, "many.yaml");
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.messages().size() == 60);
    const std::string what = e.what();
    CHECK(what.ends_with("\n... and 10 more problems"));
    CHECK(what.find("many.yaml:51:") != std::string::npos);
    CHECK(what.find("many.yaml:52:") == std::string::npos);
  }
}

TEST_CASE("unreadable files name the path and the reason") {
  try {
    load_config_file("/nonexistent/rpcgate.yaml");
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == "/nonexistent/rpcgate.yaml: cannot open: No such file or directory");
  }
  const std::string directory = std::filesystem::temp_directory_path().string();
  try {
    load_config_file(directory);
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == directory + ": cannot read: Is a directory");
  }
}

TEST_CASE("grpc: descriptor files are loaded with the config, their problems named at the key's line") {
  check_problem(
      "listeners:\n  - name: g\n    address: 127.0.0.1:1\n    codec: grpc\n"
      "    descriptors: [/nonexistent/pi.pb]\n",
      5, {"listeners[0].descriptors: cannot read /nonexistent/pi.pb: No such file or directory"});
  check_problem("listeners:\n  - name: g\n    address: 127.0.0.1:1\n    codec: grpc\n    descriptors: [[1]]\n", 5,
                {"listeners[0].descriptors[0]"});
  check_problem("listeners:\n  - {name: j, address: 127.0.0.1:2, codec: json, unwrap: true}\n", 2,
                {"unwrap applies to the grpc codec only"});
  // A cluster reads its descriptors as a listener does; the listener-only keys are refused there.
  check_problem(with_listener("routes:\n  - {match: {method: a}, cluster: g}\n"
                              "clusters:\n  - {name: g, codec: grpc, endpoints: [127.0.0.1:2],\n"
                              "     descriptors: [/nonexistent/pi.pb]}\n"),
                6, {"clusters[0].descriptors: cannot read /nonexistent/pi.pb"});
  check_problem(with_listener("routes:\n  - {match: {method: a}, cluster: g}\n"
                              "clusters:\n  - {name: g, codec: grpc, endpoints: [127.0.0.1:2], max_resets: 5}\n"),
                5, {"unknown key 'max_resets' in cluster"});
}
