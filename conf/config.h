// The typed configuration: what conf/config_loader.cpp builds from YAML and validates. Every
// section of the schema in docs/configuration.md has a struct here, whether or not the running
// build can run it; unrunnable_settings() says which settings the gateway cannot honour.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/codec.h"
#include "tls/client_context.h"
#include "tls/tls_context.h"
#include "tls/tls_engine.h"

namespace rpcgate::conf {

using Duration = std::chrono::milliseconds;

// Where a value came from, for messages that name file and line (1-based; 0 = unknown).
struct Origin {
  std::string file;
  int line = 0;
  std::string describe() const;  // "conf/rpcgate.yaml:12"
};

struct Address {
  std::string host;  // an IPv4 or IPv6 literal
  uint16_t port = 0;
  std::string to_string() const;  // "127.0.0.1:6380", "[::1]:6380"
  bool operator==(const Address&) const = default;
};

// The logins a listener requires. The secrets come from a file or an environment variable, read
// when the configuration is loaded (and again on reload), never from the config text.
struct AuthConfig {
  std::string users_file;  // one of these two
  std::string users_env;
  codec::Credentials users;
  std::vector<std::string> user_names;  // for GET /config, without the passwords
};

// A listener's TLS (docs/tls.md). The context is built from the settings when the configuration
// is loaded and shared by every connection of this configuration's generation.
struct ListenerTlsConfig {
  tls::ServerSettings settings;
  Duration handshake_timeout = std::chrono::seconds(10);  // a client that has not finished by then is closed
  // What of a client certificate (verified against client_ca) is the client's identity, shown in
  // the access log; with login_by_certificate, an identity that names a user of the listener's
  // auth logs the client in as that user, without a password.
  tls::IdentitySource identity = tls::IdentitySource::kSubjectCn;
  bool login_by_certificate = false;
  std::shared_ptr<tls::ServerContext> context;
};

struct ListenerConfig {
  std::string name;
  Address address;
  std::string codec;  // a name in the codec registry
  codec::CodecOptions codec_options;
  size_t max_connections = 10000;                     // beyond it a new connection gets an error frame and is closed
  Duration idle_timeout = std::chrono::seconds(300);  // 0 = never
  size_t max_pipeline = 1024;                         // requests in flight per connection before reading pauses
  size_t output_high_water = 1u << 20;                // unsent bytes at which reading pauses
  size_t output_limit = 64u << 20;                    // unsent bytes at which the client is disconnected
  std::optional<AuthConfig> auth;                     // unset = no login required
  std::optional<ListenerTlsConfig> tls;               // unset = plain TCP
  Origin origin;
};

struct RouteConfig {
  enum class MatchKind : uint8_t { kMethods, kPrefix, kGlob };
  MatchKind kind = MatchKind::kMethods;
  std::vector<std::string> methods;  // kMethods (`method: x` is a list of one)
  std::string pattern;               // kPrefix / kGlob
  // match.client_identity: only clients whose certificate gives one of these identities (mutual
  // TLS, the listener's tls.identity) take the route; the others go on to later routes. Empty =
  // every client.
  std::vector<std::string> client_identities;
  std::string handler;  // exactly one of handler and cluster is set
  std::string cluster;
  std::string rename;  // forward under this method name; empty = unchanged
  // The kind a successful answer carries to JSON and protobuf clients ("pi_r"), whatever answered
  // it: a legacy client checks `out`, which a gRPC or Redis upstream knows nothing of. Empty = the
  // answerer's own.
  std::string answer_kind;
  std::optional<Duration> timeout;
  int retries = 0;
  bool idempotent = false;
  Origin origin;

  // "prefix:PATTERN", "glob:PATTERN" or "methods:A<separator>B", for INFO and metrics labels.
  std::string describe_match(char separator) const;
  // Whether a request for `method` takes this route (if no route before it does), from any
  // client it admits.
  bool matches(const std::string& method) const;
  // Whether a client of `identity` ("" = none) may take it.
  bool admits(std::string_view identity) const;
};

struct OutlierConfig {
  int consecutive_failures = 5;
  Duration base_ejection = std::chrono::seconds(10);
  Duration max_ejection = std::chrono::seconds(300);
};

struct HealthCheckConfig {
  std::string method;  // empty = no active health check
  Duration interval = std::chrono::seconds(5);
  Duration timeout = std::chrono::seconds(1);
  int healthy_threshold = 2;
  int unhealthy_threshold = 3;
};

// A cluster's TLS to its upstreams (docs/tls.md). The context is built when the configuration is
// loaded and shared by every upstream connection of this configuration's generation.
struct ClusterTlsConfig {
  tls::ClientSettings settings;
  std::shared_ptr<tls::ClientContext> context;
};

struct ClusterConfig {
  std::string name;
  std::string codec;
  codec::CodecOptions codec_options;
  std::vector<Address> endpoints;             // static list, or
  std::string zookeeper_path;                 // discovery: {zookeeper: {path: ...}}
  std::string zookeeper_prefix;               // discovery: only children whose name starts with it
  std::string load_balancer = "round_robin";  // round_robin | random | least_pending | consistent_hash
  std::string hash_key;                       // consistent_hash: a param path such as params.id
  size_t max_connections = 1;                 // per endpoint per worker
  size_t pipeline_depth = 32;
  size_t max_pending = 10000;  // beyond it requests get OVERLOADED
  size_t max_pinned = 1000;    // per endpoint per worker: clients with a connection of their own

  Duration connect_timeout = std::chrono::milliseconds(200);
  Duration request_timeout = std::chrono::seconds(1);
  int retries = 0;
  OutlierConfig outlier;
  HealthCheckConfig health_check;
  std::optional<ClusterTlsConfig> tls;  // unset = plain TCP
  Origin origin;
};

// How the gateway runs: one process (single), or a master supervising worker processes that
// share the listening sockets (prefork), bind their own (reuseport) or take connections the master
// accepted (fdpass), worker threads (threads), or a child process per connection (fork).
enum class ProcessModel { kPrefork, kReuseport, kFdpass, kThreads, kFork, kSingle };

// The spellings `process.model` accepts, in the order of ProcessModel.
inline constexpr std::string_view kProcessModelNames[] = {"prefork", "reuseport", "fdpass",
                                                          "threads", "fork",      "single"};

// The spelling, for logs, metrics labels and the effective configuration.
std::string to_string(ProcessModel model);
// The model of a spelling in kProcessModelNames, or nothing.
std::optional<ProcessModel> parse_process_model(std::string_view name);

struct ProcessConfig {
  ProcessModel model = ProcessModel::kPrefork;
  unsigned workers = 0;  // 0 = auto (one per CPU)
  Duration drain_timeout = std::chrono::seconds(10);
  std::string pid_file;
  // fork: connections served at once, one child process each; the next ones wait in the backlog.
  size_t max_children = 64;
  Origin origin;
};

// Each live child of model fork holds a slot of the shared stats (about 41 KiB).
constexpr size_t kMaxChildren = 1024;

struct AdminConfig {
  std::optional<Address> address;  // unset = no admin port
  // Time every request into the shared latency histograms (two clock reads per read batch and
  // one per upstream or thread-pool answer). Off only to measure what it costs.
  bool latency_histograms = true;
  Origin origin;
};

struct LoggingConfig {
  std::string level = "info";  // debug | info | warn | error
  std::string file;            // empty = stderr
  bool access_log = false;
  std::string access_log_file;     // JSON lines, one per logged request; SIGUSR1 reopens it
  uint64_t access_log_sample = 1;  // log one request in this many
};

// A listener this gateway publishes in ZooKeeper, as the legacy services register themselves.
struct RegistrationConfig {
  std::string path;       // the parent node, e.g. /demo
  std::string listener;   // a listener's name
  std::string advertise;  // the host written in the node; empty = the listener's address
  Origin origin;
};

struct ZookeeperConfig {
  std::vector<Address> servers;  // empty = no ZooKeeper
  Duration session_timeout = std::chrono::seconds(10);
  std::string chroot;                             // every path is below it; empty = the root
  std::vector<RegistrationConfig> registrations;  // `register:`
  Origin origin;
};

struct HandlersConfig {
  std::vector<std::string> enabled;     // built-in and registered handlers to serve
  uint64_t pi_max_terms = 100'000'000;  // pi: a larger n is BAD_REQUEST
};

struct Config {
  std::string path;
  ProcessConfig process;
  std::vector<ListenerConfig> listeners;
  AdminConfig admin;
  HandlersConfig handlers;
  std::vector<RouteConfig> routes;
  std::vector<ClusterConfig> clusters;
  LoggingConfig logging;
  ZookeeperConfig zookeeper;

  // Where each key and list item was written, by the path the loader's messages use:
  // "process.model", "listeners[0].codec", "handlers.enable[2]" (either handlers shape),
  // "routes[1].match". Lets later checks (handler names, unrunnable settings) name a line.
  std::map<std::string, Origin, std::less<>> origins;
  // The origin of `key_path`, or just the file when it was not written.
  Origin origin_of(std::string_view key_path) const;
};

}  // namespace rpcgate::conf
