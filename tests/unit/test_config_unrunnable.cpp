// unrunnable_settings(): the settings of a valid config this build cannot run, each with the
// line it was written on, so the gateway can refuse to start with a precise reason.
#include <doctest/doctest.h>

#include "conf/config_loader.h"

using namespace rpcgate::conf;

namespace {

const std::string kOneListener = "listeners: [{name: a, address: 127.0.0.1:1, codec: json}]\n";

std::vector<std::string> unrunnable(std::string_view yaml) {
  return unrunnable_settings(load_config_string(yaml, "x.yaml"));
}

}  // namespace

TEST_CASE("a single-process config of listeners and built-ins runs as it is") {
  CHECK(unrunnable(R"(process: {model: single, workers: 4, drain_timeout: 30s}
listeners:
  - {name: resp, address: 127.0.0.1:6380, codec: resp, max_connections: 10}
handlers: {enable: [ping, pi], pi_max_terms: 1000}
routes:
  - {match: {prefix: "debug."}, handler: info}
logging: {level: debug, file: /tmp/rpcgate.log, access_log: false}
zookeeper: {servers: [], session_timeout: 5s}
)")
            .empty());
}

TEST_CASE("each unrunnable setting is listed once, with its line, in file order") {
  const auto found = unrunnable(R"(logging:
  file: /var/log/rpcgate.log
  access_log: false
process:
  pid_file: /run/rpcgate.pid
  model: single
listeners:
  - {name: resp, address: 127.0.0.1:6380, codec: resp}
admin: {address: 127.0.0.1:9901}
routes:
  - {match: {methods: [get, set]}, cluster: cache}
  - {match: {method: ping}, handler: ping}
clusters:
  - {name: cache, codec: resp, endpoints: [127.0.0.1:6379]}
  - name: users
    codec: json
    discovery: {zookeeper: {path: /rpc/users}}
zookeeper:
  servers: [127.0.0.1:2181]
)");
  const std::vector<std::string> expected = {
      "x.yaml:5: process.pid_file is written by the master of the prefork, reuseport, fdpass, "
      "threads and fork models; model single has none",
      "x.yaml:9: admin: the admin port is served by the master, and process.model single has none; "
      "use prefork (workers: 1 for one worker)",
      "x.yaml:18: zookeeper: the ZooKeeper session is the master's (one for all workers) and "
      "process.model single has none; use prefork (workers: 1 for one worker)",
  };
  CHECK(found == expected);
}

TEST_CASE("every process model loads, and each one with a master runs what needs the master") {
  // The three settings that only a master can run (see the table in docs/configuration.md).
  const std::string master_settings = "admin: {address: 127.0.0.1:2}\nzookeeper: {servers: [127.0.0.1:2181]}\n";
  for (const std::string model : {"prefork", "reuseport", "fdpass", "threads", "fork", "single"}) {
    CAPTURE(model);
    const std::string process = "process: {model: " + model + "}\n";
    Config config;
    REQUIRE_NOTHROW(config = load_config_string(kOneListener + process, "x.yaml"));
    CHECK(unrunnable_settings(config).empty());
    const std::string with_pid_file = "process: {model: " + model + ", pid_file: /run/x.pid}\n";
    const auto found = unrunnable(kOneListener + with_pid_file + master_settings);
    if (model == "single")
      CHECK(found.size() == 3);
    else
      CHECK(found.empty());
  }
}

TEST_CASE("a misspelled process model is refused, not run as some other model") {
  // The one mistake in the file, so the message can only be about it.
  const std::string yaml = kOneListener + "process: {model: pre-fork}\n";
  CHECK_THROWS_WITH_AS(load_config_string(yaml, "x.yaml"),
                       doctest::Contains("x.yaml:2: process.model: unknown value 'pre-fork'"), ConfigError);
}

TEST_CASE("a pid file needs a master") {
  CHECK(unrunnable(kOneListener + "process: {model: prefork, pid_file: /run/x.pid}\n").empty());
  const auto found = unrunnable(kOneListener + "process: {model: single, pid_file: /run/x.pid}\n");
  REQUIRE(found.size() == 1);
  CHECK(found[0].find("process.pid_file") != std::string::npos);
}
