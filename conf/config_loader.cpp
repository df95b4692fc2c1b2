// The entry points of config loading: reading the file, YAML syntax errors, the top-level
// sections, the checks that span sections, and the list of what this build cannot run yet.
#include "conf/config_loader.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "conf/config_sections.h"
#include "conf/route_checks.h"
#include "conf/yaml_reader.h"

namespace rpcgate::conf {
namespace {

constexpr std::string_view kTopKeys[] = {"process", "listeners", "admin",   "handlers",
                                         "routes",  "clusters",  "logging", "zookeeper"};

std::string join_lines(const std::vector<std::string>& messages) {
  std::string out;
  const size_t shown = std::min(messages.size(), ConfigError::kMaxShown);
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) out += '\n';
    out += messages[i];
  }
  if (messages.size() > shown) out += "\n... and " + std::to_string(messages.size() - shown) + " more problems";
  return out;
}

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

void check_listeners_and_admin(ReadContext& ctx, const MapReader& top, Config& config) {
  // A listeners value that is not a list has its own message already.
  const auto listeners = top.get("listeners");
  const bool not_a_list = listeners && !listeners->node.IsNull() && !listeners->node.IsSequence();
  if (config.listeners.empty() && !not_a_list) {
    const int line = ctx.line_of("listeners");
    ctx.error(line > 0 ? line : 1, "listeners",
              "at least one listener is required, such as "
              "{name: resp, address: 127.0.0.1:6380, codec: resp}");
  }
  if (!config.admin.address) return;
  for (const auto& listener : config.listeners) {
    if (listener.address.port == 0 || !addresses_overlap(*config.admin.address, listener.address)) continue;
    ctx.error(ctx.line_of("admin.address"), "admin.address",
              config.admin.address->to_string() + " overlaps the address of listener " + in_quotes(listener.name) +
                  " (line " + std::to_string(listener.origin.line) + "): both cannot be bound");
  }
}

void check_cluster_references(ReadContext& ctx, Config& config) {
  std::vector<std::string_view> names;
  for (const auto& cluster : config.clusters)
    if (!cluster.name.empty()) names.push_back(cluster.name);
  for (size_t i = 0; i < config.routes.size(); ++i) {
    const RouteConfig& route = config.routes[i];
    if (route.cluster.empty() || std::find(names.begin(), names.end(), route.cluster) != names.end()) continue;
    const std::string path = "routes[" + std::to_string(i) + "].cluster";
    ctx.error(ctx.line_of(path), path,
              "no cluster named " + in_quotes(route.cluster) + did_you_mean(route.cluster, names) +
                  (names.empty() ? "; the clusters section defines none" : "; defined clusters: " + join(names)));
  }
  for (size_t i = 0; i < config.clusters.size(); ++i) {
    const ClusterConfig& cluster = config.clusters[i];
    if (cluster.zookeeper_path.empty() || !config.zookeeper.servers.empty()) continue;
    const std::string path = "clusters[" + std::to_string(i) + "].discovery";
    ctx.error(ctx.line_of(path), path, "ZooKeeper discovery needs servers: add zookeeper: {servers: [HOST:PORT, ...]}");
  }
  const auto& zookeeper = config.zookeeper;
  if (!zookeeper.registrations.empty() && zookeeper.servers.empty())
    ctx.error(zookeeper.origin.line, "zookeeper.register", "register needs zookeeper servers to register with");
  std::vector<std::string_view> listener_names;
  for (const auto& listener : config.listeners) listener_names.push_back(listener.name);
  for (size_t i = 0; i < zookeeper.registrations.size(); ++i) {
    const RegistrationConfig& registration = zookeeper.registrations[i];
    const std::string path = "zookeeper.register[" + std::to_string(i) + "]";
    auto listener = std::find_if(config.listeners.begin(), config.listeners.end(),
                                 [&](const ListenerConfig& l) { return l.name == registration.listener; });
    if (listener == config.listeners.end()) {
      if (!registration.listener.empty())
        ctx.error(registration.origin.line, path + ".listener",
                  "no listener named " + in_quotes(registration.listener) +
                      did_you_mean(registration.listener, listener_names) +
                      "; defined listeners: " + join(listener_names));
      continue;
    }
    const std::string& host = listener->address.host;
    if (registration.advertise.empty() && (host == "0.0.0.0" || host == "::"))
      ctx.error(registration.origin.line, path,
                "listener " + in_quotes(listener->name) + " listens on every address (" + host +
                    "); say which one clients should use: advertise: HOST");
  }
}

constexpr size_t kMaxYamlNodes = 200'000;

// Counts the values of `node` as the reader will visit them (each alias expanded), subtracting
// from `budget`; false once it runs out. The depth is bounded by yaml-cpp's own limit.
bool spend_node_budget(const YAML::Node& node, size_t& budget) {
  if (!node.IsDefined()) return true;
  if (budget == 0) return false;
  --budget;
  if (node.IsSequence()) {
    for (const auto& item : node)
      if (!spend_node_budget(item, budget)) return false;
  } else if (node.IsMap()) {
    for (const auto& entry : node)
      if (!spend_node_budget(entry.first, budget) || !spend_node_budget(entry.second, budget)) return false;
  }
  return true;
}

Config read_config(ReadContext& ctx, const YAML::Node& root, std::span<const std::string_view> known_handlers) {
  Config config;
  config.path = ctx.file();
  config.handlers.enabled.assign(std::begin(kDefaultHandlers), std::end(kDefaultHandlers));
  // Sections left out still name the file in messages; reading one sets its line.
  config.process.origin = config.admin.origin = config.zookeeper.origin = ctx.origin(0);
  // Keys starting with "x-" are ignored at the top level: a home for YAML anchors to merge from.
  MapReader top(ctx, Field{root, "", 1}, "the file", kTopKeys, /*allow_extensions=*/true);
  if (auto field = top.get("process")) read_process(ctx, *field, config.process);
  if (auto field = top.get("listeners")) read_listeners(ctx, *field, config.listeners);
  if (auto field = top.get("admin")) read_admin(ctx, *field, config.admin);
  if (auto field = top.get("handlers")) read_handlers(ctx, *field, config.handlers);
  if (auto field = top.get("logging")) read_logging(ctx, *field, config.logging);
  if (auto field = top.get("zookeeper")) read_zookeeper(ctx, *field, config.zookeeper);
  if (auto field = top.get("clusters")) read_clusters(ctx, *field, config.clusters);
  if (auto field = top.get("routes")) read_routes(ctx, *field, config.routes);
  if (top.is_map()) {
    check_listeners_and_admin(ctx, top, config);
    check_cluster_references(ctx, config);
    check_routes(ctx, config, known_handlers);
  }
  config.origins = ctx.take_origins();
  return config;
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> messages)
    : std::runtime_error(join_lines(messages)), messages_(std::move(messages)) {}

// The line of the first content of a second YAML document, or 0 when there is none (a trailing
// "---" alone is harmless). A document marker starts at column 0, so a text scan finds it.
int second_document_line(std::string_view text) {
  bool content = false;
  bool second = false;
  int line_number = 0;
  while (!text.empty()) {
    std::string_view line = take_line(text);
    ++line_number;
    bool marker = line.starts_with("---") && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
    if (marker) {
      second = second || content;
      line.remove_prefix(3);
    }
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;
    if (second) return line_number;
    content = true;
  }
  return 0;
}

Config load_config_string(std::string_view yaml, const std::string& name,
                          std::span<const std::string_view> known_handlers) {
  YAML::Node root;
  try {
    // YAML::Load, not LoadAll: yaml-cpp 0.7's LoadAll loops for ever on some malformed input
    // (`!:,!`; upstream issue 1040, fixed after 0.7); Load reads one document and stops.
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp words this one "bad file"; say what actually went wrong.
    throw ConfigError({name + ":" + std::to_string(e.mark.line + 1) +
                       ": YAML nesting too deep (lists and mappings within each other)"});
  } catch (const YAML::Exception& e) {
    Origin where{name, e.mark.is_null() ? 0 : e.mark.line + 1};
    throw ConfigError({where.describe() + ": YAML syntax error: " + e.msg});
  }
  ReadContext ctx(name);
  if (int line = second_document_line(yaml); line > 0)
    ctx.error(line, "", "a second YAML document ('---'); a config file holds one");
  // Aliases share nodes, so a few lines (`&a [*b, *b, ...]`, nested) can stand for billions of
  // values: the reader, which visits each one, would never finish. Bounded before reading.
  if (size_t budget = kMaxYamlNodes; !spend_node_budget(root, budget))
    throw ConfigError({name + ": the file expands to more than " + std::to_string(kMaxYamlNodes) +
                       " YAML values (aliases of aliases?); a configuration needs far fewer"});
  Config config = read_config(ctx, root, known_handlers);
  if (ctx.has_errors()) throw ConfigError(ctx.messages());
  return config;
}

Config load_config_file(const std::string& path, std::span<const std::string_view> known_handlers) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw ConfigError({path + ": cannot open: " + std::strerror(errno)});
  std::string text;
  char buffer[1 << 16];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) text.append(buffer, got);
  // A directory opens fine and fails on the first read (EISDIR).
  if (std::ferror(file.get())) throw ConfigError({path + ": cannot read: " + std::strerror(errno)});
  return load_config_string(text, path, known_handlers);
}

std::vector<std::string> unrunnable_settings(const Config& config) {
  struct Item {
    Origin origin;
    std::string text;
  };
  std::vector<Item> items;
  // Writing and removing a pid file is the master's job; a single process has no master.
  if (!config.process.pid_file.empty() && config.process.model == ProcessModel::kSingle) {
    items.push_back({config.origin_of("process.pid_file"),
                     "process.pid_file is written by the master of the prefork, reuseport, fdpass, "
                     "threads and fork models; model single has none"});
  }
  if (config.admin.address && config.process.model == ProcessModel::kSingle) {
    items.push_back({config.origin_of("admin.address"),
                     "admin: the admin port is served by the master, and process.model single has "
                     "none; use prefork (workers: 1 for one worker)"});
  }
  if (!config.zookeeper.servers.empty() && config.process.model == ProcessModel::kSingle) {
    items.push_back({config.zookeeper.origin,
                     "zookeeper: the ZooKeeper session is the master's (one for all workers) and "
                     "process.model single has none; use prefork (workers: 1 for one worker)"});
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.origin.line < b.origin.line; });
  std::vector<std::string> out;
  for (const auto& item : items) out.push_back(item.origin.describe() + ": " + item.text);
  return out;
}

}  // namespace rpcgate::conf
