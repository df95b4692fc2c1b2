// Reading each top-level section of the config file into its struct: the keys a section allows,
// which are required, the range of every value and the rules between keys of one section.
#include "conf/config_sections.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>

#include "codecs/codec.h"
#include "conf/codec_settings.h"
#include "conf/config_loader.h"
#include "conf/tls_settings.h"

namespace rpcgate::conf {
namespace {

using namespace std::chrono_literals;

// Upper bounds catch typos (an extra zero) and values the code cannot honour; they are not advice.
constexpr uint64_t kMaxWorkers = 1024;
constexpr size_t kMaxBytes = size_t{1} << 40;  // 1 TiB, for other byte counts
constexpr uint64_t kMaxListenerConnections = 1'000'000;
constexpr uint64_t kMaxPipeline = 1'000'000;
constexpr uint64_t kMaxEndpointConnections = 1024;
constexpr uint64_t kMaxPipelineDepth = 1'000'000;
constexpr uint64_t kMaxPending = 100'000'000;
constexpr uint64_t kMaxPinned = 100'000;
constexpr uint64_t kMaxRetries = 10;
constexpr uint64_t kMaxFailures = 1'000'000;
constexpr uint64_t kMaxThreshold = 1000;
constexpr uint64_t kMaxPiTerms = std::numeric_limits<int64_t>::max();
constexpr size_t kMaxNameLength = 64;

constexpr std::string_view kProcessKeys[] = {"model", "workers", "drain_timeout", "pid_file", "max_children"};

// A listener's keys beside those its codec declares (codec_keys()).
constexpr std::string_view kListenerKeys[] = {"name",
                                              "address",
                                              "codec",
                                              "max_frame_bytes",
                                              "max_depth",
                                              "max_connections",
                                              "idle_timeout",
                                              "max_pipeline",
                                              "output_high_water",
                                              "output_limit",
                                              "auth",
                                              "tls"};
constexpr std::string_view kAuthKeys[] = {"users_file", "users_env"};
constexpr size_t kMaxUsersBytes = 1u << 20;
constexpr size_t kMaxUsers = 10'000;

constexpr std::string_view kAdminKeys[] = {"address", "latency_histograms"};
constexpr std::string_view kHandlersKeys[] = {"enable", "pi_max_terms"};

constexpr std::string_view kRouteKeys[] = {"match", "handler", "cluster", "rename",
                                           "kind",  "timeout", "retries", "idempotent"};
// What a route matches on: exactly one of the method kinds, and, optionally, who may take it.
constexpr std::string_view kMatchKinds[] = {"method", "methods", "prefix", "glob"};
constexpr std::string_view kMatchKeys[] = {"method", "methods", "prefix", "glob", "client_identity"};
// An identity is at most this long (tls::TlsEngine::peer_identity gives none longer).
constexpr size_t kMaxIdentityBytes = 255;

// A cluster's keys beside those its codec declares (codec_keys()).
constexpr std::string_view kClusterKeys[] = {"name",
                                             "codec",
                                             "max_frame_bytes",
                                             "max_depth",
                                             "endpoints",
                                             "discovery",
                                             "load_balancer",
                                             "hash_key",
                                             "max_connections",
                                             "pipeline_depth",
                                             "max_pending",
                                             "connect_timeout",
                                             "request_timeout",
                                             "retries",
                                             "outlier",
                                             "health_check",
                                             "max_pinned",
                                             "tls"};
constexpr std::string_view kDiscoveryKeys[] = {"zookeeper"};
constexpr std::string_view kZookeeperDiscoveryKeys[] = {"path", "prefix"};
constexpr std::string_view kLoadBalancers[] = {"round_robin", "random", "least_pending", "consistent_hash"};
constexpr std::string_view kOutlierKeys[] = {"consecutive_failures", "base_ejection", "max_ejection"};
constexpr std::string_view kHealthCheckKeys[] = {"method", "interval", "timeout", "healthy_threshold",
                                                 "unhealthy_threshold"};

constexpr std::string_view kLoggingKeys[] = {"level", "file", "access_log", "access_log_file", "access_log_sample"};
constexpr std::string_view kLevels[] = {"debug", "info", "warn", "error"};
constexpr std::string_view kZookeeperKeys[] = {"servers", "session_timeout", "chroot", "register"};
constexpr std::string_view kRegistrationKeys[] = {"path", "listener", "advertise"};

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }
std::string line_note(int line) { return " (line " + std::to_string(line) + ")"; }

// Listener and cluster names appear in logs, metric labels and admin URLs.
void read_name(MapReader& map, std::string& out) {
  std::string name;
  if (!map.read_string("name", name)) return;
  const bool ok = name.size() <= kMaxNameLength && std::all_of(name.begin(), name.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                           c == '-' || c == '.';
                  });
  if (!ok) {
    map.context().error(map.key_line("name"), child_path(map.path(), "name"),
                        "bad name " + in_quotes(name) + ": use up to " + std::to_string(kMaxNameLength) +
                            " letters, digits, '_', '-' and '.'");
    return;
  }
  out = std::move(name);
}

// ZooKeeper paths: absolute, no empty, "." or ".." component, no trailing slash.
bool valid_zookeeper_path(std::string_view path) {
  if (path.size() < 2 || path.front() != '/' || path.back() == '/') return false;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

bool read_zookeeper_path(MapReader& map, std::string_view key, std::string& out) {
  std::string path;
  if (!map.read_string(key, path)) return false;
  if (!valid_zookeeper_path(path)) {
    map.context().error(
        map.key_line(key), child_path(map.path(), key),
        "bad ZooKeeper path " + in_quotes(path) + ": expected an absolute path such as /rpc/users (no trailing '/')");
    return false;
  }
  out = std::move(path);
  return true;
}

// `USER:PASSWORD` per line (the first ':' splits; a line without one is the password of the user
// `default`, which RESP's `AUTH password` logs in as); blank lines and `#` comments skipped.
// Empty with `problem` set when the text holds no user, a malformed line, or a user listed twice.
bool parse_users(std::string_view text, AuthConfig& auth, std::string& problem) {
  size_t line_number = 0;
  std::map<std::string, size_t, std::less<>> first_lines;  // user -> the line that named it
  while (!text.empty()) {
    std::string_view line = take_line(text);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    size_t colon = line.find(':');
    std::string user(colon == std::string_view::npos ? codec::kDefaultUser : line.substr(0, colon));
    std::string password(colon == std::string_view::npos ? line : line.substr(colon + 1));
    if (user.empty() || password.empty()) {
      problem = "line " + std::to_string(line_number) + ": expected USER:PASSWORD (or a password alone)";
      return false;
    }
    if (auth.user_names.size() >= kMaxUsers) {
      problem = "more than " + std::to_string(kMaxUsers) + " users";
      return false;
    }
    // Two entries would make two passwords work for one user: a typo that widens access.
    if (auto first = first_lines.find(user); first != first_lines.end()) {
      problem = "line " + std::to_string(line_number) + ": user '" + user + "' is listed twice (first on line " +
                std::to_string(first->second) + ")" +
                (colon == std::string_view::npos ? "; a line without ':' is the password of the user 'default'" : "");
      return false;
    }
    first_lines.emplace(user, line_number);
    auth.user_names.push_back(user);
    auth.users.add(std::move(user), std::move(password));
  }
  if (auth.users.empty()) problem = "no user in it";
  return !auth.users.empty();
}

void read_auth(MapReader& listener_map, AuthConfig& auth) {
  ReadContext& ctx = listener_map.context();
  auto field = listener_map.get("auth");
  MapReader map(ctx, *field, "auth", kAuthKeys);
  if (!map.is_map()) return;
  bool from_file = map.read_string("users_file", auth.users_file);
  bool from_env = map.read_string("users_env", auth.users_env);
  if (from_file == from_env) {
    ctx.error(map.line(), map.path(), "give exactly one of users_file: PATH and users_env: VARIABLE");
    return;
  }
  std::string text, problem, where;
  if (from_file) {
    where = "users_file " + auth.users_file;
    std::ifstream in(auth.users_file, std::ios::binary);
    if (!in) {
      ctx.error(map.key_line("users_file"), child_path(map.path(), "users_file"),
                "cannot read " + auth.users_file + ": " + std::strerror(errno));
      return;
    }
    // At most one byte past the limit: a path such as /dev/zero must not fill the memory.
    text.resize(kMaxUsersBytes + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
  } else {
    where = "users_env " + auth.users_env;
    const char* value = std::getenv(auth.users_env.c_str());
    if (value == nullptr) {
      ctx.error(map.key_line("users_env"), child_path(map.path(), "users_env"),
                "the environment variable " + auth.users_env + " is not set");
      return;
    }
    text = value;
  }
  const char* key = from_file ? "users_file" : "users_env";
  if (text.size() > kMaxUsersBytes)
    ctx.error(map.key_line(key), child_path(map.path(), key), where + ": larger than 1 MiB");
  else if (!parse_users(text, auth, problem))
    ctx.error(map.key_line(key), child_path(map.path(), key), where + ": " + problem);
}

ListenerConfig read_listener(ReadContext& ctx, const Field& item) {
  ListenerConfig listener;
  listener.origin = ctx.origin(item.line);
  MapReader map(ctx, item, "listener", section_keys(kListenerKeys, "listener"));
  map.require({"name", "address", "codec"});
  read_name(map, listener.name);
  map.read_address("address", listener.address);
  read_codec_settings(map, "listener", listener.codec, listener.codec_options);
  map.read_integer("max_connections", listener.max_connections, 1, kMaxListenerConnections);
  map.read_duration("idle_timeout", listener.idle_timeout);
  if (map.has("auth")) read_auth(map, listener.auth.emplace());
  if (map.has("tls")) read_listener_tls(map, listener.auth.has_value(), listener.tls.emplace());
  map.read_integer("max_pipeline", listener.max_pipeline, 1, kMaxPipeline);
  const bool high_water = map.read_size("output_high_water", listener.output_high_water, 1, kMaxBytes);
  const bool limit = map.read_size("output_limit", listener.output_limit, 1, kMaxBytes);
  if ((high_water || limit) && listener.output_high_water > listener.output_limit) {
    const char* key = high_water ? "output_high_water" : "output_limit";
    ctx.error(map.key_line(key), child_path(map.path(), key),
              "output_high_water (" + format_size(listener.output_high_water) + ") must not exceed output_limit (" +
                  format_size(listener.output_limit) +
                  "): reading pauses at the high-water mark, the limit disconnects");
  }
  return listener;
}

// `client_identity: [names]` (or one name): the route takes only clients whose certificate
// gives one of these identities (a listener's tls.identity); the others go on to later routes.
void read_client_identities(MapReader& map, RouteConfig& route) {
  auto field = map.get("client_identity");
  if (!field) return;
  ReadContext& ctx = map.context();
  std::vector<Field> items;
  if (field->node.IsScalar())
    items.push_back(*field);
  else
    items = read_list(ctx, *field);
  if (field->node.IsSequence() && items.empty()) ctx.error(field->line, field->path, "expected at least one identity");
  for (const auto& item : items) {
    auto name = read_string(ctx, item);
    if (!name) continue;
    const bool printable = std::none_of(name->begin(), name->end(),
                                        [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
    if (name->empty() || name->size() > kMaxIdentityBytes || !printable) {
      ctx.error(item.line, item.path,
                "an identity has 1 to 255 bytes and no control character, as a certificate's name gives it");
      continue;
    }
    auto& names = route.client_identities;
    if (std::find(names.begin(), names.end(), *name) != names.end()) {
      ctx.error(item.line, item.path, "identity " + in_quotes(*name) + " is listed twice");
      continue;
    }
    names.push_back(std::move(*name));
  }
}

void read_route_match(ReadContext& ctx, const Field& field, RouteConfig& route) {
  MapReader map(ctx, field, "match", kMatchKeys);
  if (!map.is_map()) return;
  read_client_identities(map, route);
  std::vector<std::string_view> given;
  for (auto key : kMatchKinds)
    if (map.has(key)) given.push_back(key);
  if (given.size() != 1) {
    ctx.error(field.line, field.path,
              given.empty() ? "match needs one of: " + join(kMatchKinds)
                            : "match takes exactly one of: " + join(kMatchKinds) + "; got " + join(given));
    return;
  }
  if (map.has("method")) {
    std::string method;
    if (map.read_string("method", method)) route.methods.push_back(std::move(method));
    route.kind = RouteConfig::MatchKind::kMethods;
  } else if (auto methods = map.get("methods")) {
    route.kind = RouteConfig::MatchKind::kMethods;
    const auto items = read_list(ctx, *methods);
    if (methods->node.IsSequence() && items.empty())
      ctx.error(methods->line, methods->path, "expected at least one method name");
    for (const auto& item : items) {
      auto method = read_string(ctx, item);
      if (!method) continue;
      if (std::find(route.methods.begin(), route.methods.end(), *method) != route.methods.end()) {
        ctx.error(item.line, item.path, "method " + in_quotes(*method) + " is listed twice");
        continue;
      }
      route.methods.push_back(std::move(*method));
    }
  } else if (map.has("prefix")) {
    route.kind = RouteConfig::MatchKind::kPrefix;
    map.read_string("prefix", route.pattern);
  } else {
    route.kind = RouteConfig::MatchKind::kGlob;
    map.read_string("glob", route.pattern);
  }
}

RouteConfig read_route(ReadContext& ctx, const Field& item) {
  RouteConfig route;
  route.origin = ctx.origin(item.line);
  MapReader map(ctx, item, "route", kRouteKeys);
  map.require({"match"});
  if (auto match = map.get("match")) read_route_match(ctx, *match, route);
  if (map.has("handler") && map.has("cluster")) {
    ctx.error(map.key_line("cluster"), map.path(), "a route has one target: handler or cluster, not both");
  } else if (map.has("handler")) {
    map.read_string("handler", route.handler);
  } else if (map.has("cluster")) {
    map.read_string("cluster", route.cluster);
  } else if (map.is_map()) {
    ctx.error(map.line(), map.path(), "missing a target: handler: NAME or cluster: NAME");
  }
  map.read_string("rename", route.rename);
  map.read_string("kind", route.answer_kind);
  Duration timeout{};
  if (map.read_duration("timeout", timeout, 1ms)) route.timeout = timeout;
  map.read_integer("retries", route.retries, 0, kMaxRetries);
  map.read_bool("idempotent", route.idempotent);
  // Retrying needs an upstream to retry on, and a deadline something to wait for: an in-process
  // handler answers or fails, and is never waited on.
  for (std::string_view key : {"timeout", "retries", "idempotent"}) {
    if (map.has(key) && map.has("handler"))
      ctx.error(map.key_line(key), child_path(map.path(), key),
                std::string(key) + " applies to routes with a cluster target only");
  }
  return route;
}

// `params`, or a path into them: params.id, params.user.id, params.0 (an array element).
bool valid_hash_key(std::string_view key) {
  if (key == "params") return true;
  if (!key.starts_with("params.")) return false;
  key.remove_prefix(7);
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('.', start);
    if (end == std::string_view::npos) end = key.size();
    if (end == start) return false;
    start = end + 1;
  }
  return true;
}

void read_outlier(ReadContext& ctx, const Field& field, OutlierConfig& out) {
  MapReader map(ctx, field, "outlier", kOutlierKeys);
  map.read_integer("consecutive_failures", out.consecutive_failures, 0, kMaxFailures);
  const bool base = map.read_duration("base_ejection", out.base_ejection, 1ms);
  const bool max = map.read_duration("max_ejection", out.max_ejection, 1ms);
  if ((base || max) && out.max_ejection < out.base_ejection) {
    const char* key = max ? "max_ejection" : "base_ejection";
    ctx.error(map.key_line(key), child_path(map.path(), key),
              "max_ejection (" + format_duration(out.max_ejection) + ") must not be shorter than base_ejection (" +
                  format_duration(out.base_ejection) + ")");
  }
}

void read_health_check(ReadContext& ctx, const Field& field, HealthCheckConfig& out) {
  MapReader map(ctx, field, "health_check", kHealthCheckKeys);
  map.require({"method"});  // without a method there is nothing to call: omit the section instead
  map.read_string("method", out.method);
  const bool interval = map.read_duration("interval", out.interval, 1ms);
  const bool timeout = map.read_duration("timeout", out.timeout, 1ms);
  if ((interval || timeout) && out.timeout > out.interval) {
    const char* key = timeout ? "timeout" : "interval";
    ctx.error(map.key_line(key), child_path(map.path(), key),
              "timeout (" + format_duration(out.timeout) + ") must not exceed interval (" +
                  format_duration(out.interval) + "): checks would overlap");
  }
  map.read_integer("healthy_threshold", out.healthy_threshold, 1, kMaxThreshold);
  map.read_integer("unhealthy_threshold", out.unhealthy_threshold, 1, kMaxThreshold);
}

void read_endpoints(ReadContext& ctx, const Field& field, std::vector<Address>& out, bool allow_empty) {
  const auto items = read_list(ctx, field);
  if (!allow_empty && items.empty() && (field.node.IsSequence() || field.node.IsNull()))
    ctx.error(field.line, field.path, "expected at least one HOST:PORT");
  std::vector<int> lines;
  for (const auto& item : items) {
    auto address = read_address(ctx, item);
    if (!address) continue;
    auto same = std::find_if(out.begin(), out.end(),
                             [&](const Address& a) { return a.host == address->host && a.port == address->port; });
    if (same != out.end()) {
      ctx.error(item.line, item.path,
                address->to_string() + " is listed twice" + line_note(lines[size_t(same - out.begin())]));
      continue;
    }
    out.push_back(std::move(*address));
    lines.push_back(item.line);
  }
}

ClusterConfig read_cluster(ReadContext& ctx, const Field& item) {
  ClusterConfig cluster;
  cluster.origin = ctx.origin(item.line);
  MapReader map(ctx, item, "cluster", section_keys(kClusterKeys, "cluster"));
  map.require({"name", "codec"});
  read_name(map, cluster.name);
  read_codec_settings(map, "cluster", cluster.codec, cluster.codec_options);

  if (map.has("endpoints") && map.has("discovery")) {
    ctx.error(map.key_line("discovery"), map.path(), "give either endpoints or discovery, not both");
  } else if (auto endpoints = map.get("endpoints")) {
    read_endpoints(ctx, *endpoints, cluster.endpoints, false);
  } else if (auto discovery = map.get("discovery")) {
    MapReader sources(ctx, *discovery, "discovery", kDiscoveryKeys);
    sources.require({"zookeeper"});
    if (auto zookeeper = sources.get("zookeeper")) {
      MapReader zk(ctx, *zookeeper, "discovery.zookeeper", kZookeeperDiscoveryKeys);
      zk.require({"path"});
      read_zookeeper_path(zk, "path", cluster.zookeeper_path);
      zk.read_string("prefix", cluster.zookeeper_prefix);
    }
  } else if (map.is_map()) {
    ctx.error(map.line(), map.path(),
              "missing endpoints: give endpoints: [HOST:PORT, ...] or "
              "discovery: {zookeeper: {path: /PATH}}");
  }

  map.read_choice("load_balancer", cluster.load_balancer, kLoadBalancers);
  std::string hash_key;
  if (map.read_string("hash_key", hash_key)) {
    if (cluster.load_balancer != "consistent_hash") {
      ctx.error(map.key_line("hash_key"), child_path(map.path(), "hash_key"),
                "hash_key applies to load_balancer: consistent_hash only");
    } else if (!valid_hash_key(hash_key)) {
      ctx.error(map.key_line("hash_key"), child_path(map.path(), "hash_key"),
                "bad hash_key " + in_quotes(hash_key) +
                    ": expected params or a path into them such as params.id or params.0");
    } else {
      cluster.hash_key = std::move(hash_key);
    }
  }
  map.read_integer("max_connections", cluster.max_connections, 1, kMaxEndpointConnections);
  map.read_integer("pipeline_depth", cluster.pipeline_depth, 1, kMaxPipelineDepth);
  map.read_integer("max_pending", cluster.max_pending, 1, kMaxPending);
  map.read_integer("max_pinned", cluster.max_pinned, 0, kMaxPinned);
  map.read_duration("connect_timeout", cluster.connect_timeout, 1ms);
  map.read_duration("request_timeout", cluster.request_timeout, 1ms);
  map.read_integer("retries", cluster.retries, 0, kMaxRetries);
  if (auto outlier = map.get("outlier")) read_outlier(ctx, *outlier, cluster.outlier);
  if (auto health = map.get("health_check")) read_health_check(ctx, *health, cluster.health_check);
  if (map.has("tls")) {
    const codec::CodecInfo* codec = codec::find_codec(cluster.codec);
    read_cluster_tls(map, codec != nullptr ? codec->alpn : std::string_view(), cluster.tls.emplace());
    cluster.codec_options.upstream_tls = true;
  }
  return cluster;
}

}  // namespace

bool addresses_overlap(const Address& a, const Address& b) {
  if (a.port != b.port) return false;
  if (a.host == b.host) return true;  // hosts are canonical, so equal text is equal address
  // Linux binds "::" dual-stack by default (bindv6only=0), so it takes the port on IPv4 too.
  if (a.host == "::" || b.host == "::") return true;
  const bool a_v4 = a.host.find(':') == std::string::npos;
  const bool b_v4 = b.host.find(':') == std::string::npos;
  return a_v4 && b_v4 && (a.host == "0.0.0.0" || b.host == "0.0.0.0");
}

void read_process(ReadContext& ctx, const Field& field, ProcessConfig& out) {
  out.origin = ctx.origin(field.line);
  MapReader map(ctx, field, "process", kProcessKeys);
  // Parsed here once: everything past conf/ compares ProcessModel values.
  if (std::string model; map.read_choice("model", model, kProcessModelNames)) out.model = *parse_process_model(model);
  if (auto workers = map.get("workers")) {
    if (workers->node.IsScalar() && workers->node.Scalar() == "auto") {
      out.workers = 0;
    } else if (workers->node.IsScalar() && !workers->node.IsNull()) {
      ReadContext quiet(ctx.file());  // the message below says "or auto", which the generic one cannot
      if (auto n = read_integer(quiet, *workers, 1, kMaxWorkers))
        out.workers = unsigned(*n);
      else
        ctx.error(workers->line, workers->path,
                  "expected a number of workers from 1 to " + std::to_string(kMaxWorkers) +
                      " or auto (one per CPU), got " + describe(workers->node));
    } else {
      ctx.error(workers->line, workers->path, "expected a number of workers or auto, got " + describe(workers->node));
    }
  }
  map.read_duration("drain_timeout", out.drain_timeout);
  map.read_string("pid_file", out.pid_file);
  map.read_size("max_children", out.max_children, 1, kMaxChildren);
}

void read_listeners(ReadContext& ctx, const Field& field, std::vector<ListenerConfig>& out) {
  for (const auto& item : read_list(ctx, field)) {
    ListenerConfig listener = read_listener(ctx, item);
    for (const auto& other : out) {
      if (!listener.name.empty() && listener.name == other.name)
        ctx.error(ctx.line_of(item.path + ".name"), item.path + ".name",
                  "duplicate listener name " + in_quotes(listener.name) + line_note(other.origin.line));
      if (listener.address.port != 0 && addresses_overlap(listener.address, other.address))
        ctx.error(ctx.line_of(item.path + ".address"), item.path + ".address",
                  listener.address.to_string() + " overlaps the address of listener " + in_quotes(other.name) + " (" +
                      other.address.to_string() + ", line " + std::to_string(other.origin.line) +
                      "): both cannot be bound");
    }
    out.push_back(std::move(listener));
  }
}

void read_admin(ReadContext& ctx, const Field& field, AdminConfig& out) {
  if (!field.node.IsDefined() || field.node.IsNull()) return;  // `admin:` alone: no admin port
  out.origin = ctx.origin(field.line);
  MapReader map(ctx, field, "admin", kAdminKeys);
  Address address;
  if (map.read_address("address", address)) out.address = address;
  map.read_bool("latency_histograms", out.latency_histograms);
}

void read_handlers(ReadContext& ctx, const Field& field, HandlersConfig& out) {
  out.enabled.assign(std::begin(kDefaultHandlers), std::end(kDefaultHandlers));
  if (!field.node.IsDefined() || field.node.IsNull()) return;
  // Both shapes record their names under "handlers.enable[i]", so the gateway can find the line
  // of an unknown handler whichever shape the file uses.
  const std::string enable_path = child_path(field.path, "enable");
  std::optional<Field> names;
  if (field.node.IsSequence()) {
    names.emplace(Field{field.node, enable_path, field.line});
    ctx.record(enable_path, field.line);
  } else if (field.node.IsMap()) {
    MapReader map(ctx, field, "handlers", kHandlersKeys);
    if (auto enable = map.get("enable")) names.emplace(*enable);
    map.read_integer("pi_max_terms", out.pi_max_terms, 1, kMaxPiTerms);
  } else {
    ctx.error(field.line, field.path,
              "expected a list of handler names such as [ping, echo] or a mapping "
              "{enable: [...], pi_max_terms: N}, got " +
                  describe(field.node));
  }
  if (!names) return;
  out.enabled.clear();
  std::vector<int> lines;
  for (const auto& item : read_list(ctx, *names)) {
    auto name = read_string(ctx, item);
    if (!name) continue;
    auto same = std::find(out.enabled.begin(), out.enabled.end(), *name);
    if (same != out.enabled.end()) {
      ctx.error(
          item.line, item.path,
          "handler " + in_quotes(*name) + " is listed twice" + line_note(lines[size_t(same - out.enabled.begin())]));
      continue;
    }
    out.enabled.push_back(std::move(*name));
    lines.push_back(item.line);
  }
}

void read_routes(ReadContext& ctx, const Field& field, std::vector<RouteConfig>& out) {
  for (const auto& item : read_list(ctx, field)) out.push_back(read_route(ctx, item));
}

void read_clusters(ReadContext& ctx, const Field& field, std::vector<ClusterConfig>& out) {
  for (const auto& item : read_list(ctx, field)) {
    ClusterConfig cluster = read_cluster(ctx, item);
    for (const auto& other : out) {
      if (!cluster.name.empty() && cluster.name == other.name)
        ctx.error(ctx.line_of(item.path + ".name"), item.path + ".name",
                  "duplicate cluster name " + in_quotes(cluster.name) + line_note(other.origin.line));
    }
    out.push_back(std::move(cluster));
  }
}

void read_logging(ReadContext& ctx, const Field& field, LoggingConfig& out) {
  MapReader map(ctx, field, "logging", kLoggingKeys);
  map.read_choice("level", out.level, kLevels);
  map.read_string("file", out.file);
  map.read_bool("access_log", out.access_log);
  map.read_string("access_log_file", out.access_log_file);
  map.read_integer("access_log_sample", out.access_log_sample, 1, 1'000'000);
  if (out.access_log && out.access_log_file.empty())
    map.context().error(map.key_line("access_log"), child_path(map.path(), "access_log"),
                        "access_log needs access_log_file: PATH (one JSON line per request goes there)");
}

void read_zookeeper(ReadContext& ctx, const Field& field, ZookeeperConfig& out) {
  out.origin = ctx.origin(field.line);
  MapReader map(ctx, field, "zookeeper", kZookeeperKeys);
  if (auto servers = map.get("servers")) read_endpoints(ctx, *servers, out.servers, true);
  // ZooKeeper negotiates the timeout into 2 to 20 of its ticks (4 s to 40 s by default); a
  // value outside that range is adjusted by the server, and the log says what was granted.
  map.read_duration("session_timeout", out.session_timeout, 100ms);
  read_zookeeper_path(map, "chroot", out.chroot);
  if (auto list = map.get("register")) {
    for (const auto& item : read_list(ctx, *list)) {
      RegistrationConfig registration;
      registration.origin = ctx.origin(item.line);
      MapReader entry(ctx, item, "registration", kRegistrationKeys);
      entry.require({"path", "listener"});
      read_zookeeper_path(entry, "path", registration.path);
      entry.read_string("listener", registration.listener);
      if (entry.read_string("advertise", registration.advertise)) {
        const std::string& host = registration.advertise;
        bool plain = !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_';
        });
        if (!plain)
          ctx.error(entry.key_line("advertise"), child_path(entry.path(), "advertise"),
                    "bad advertise host " + in_quotes(host) + ": expected an IP address or a host name");
      }
      out.registrations.push_back(std::move(registration));
    }
  }
}

}  // namespace rpcgate::conf
