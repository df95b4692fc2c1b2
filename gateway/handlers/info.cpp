// info and stats: the counters of every worker, as Redis-style INFO text (sections of key:value
// lines, what redis-cli and monitoring scripts parse) and as a JSON object. Totals are summed over
// the shared stats table; a Workers section shows each worker's own.
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>

#include "backends/upstreams.h"
#include "gateway/handlers/builtin.h"
#include "gateway/stats_json.h"

namespace rpcgate::handlers {
namespace {

uint64_t now_unix_ms() {
  timeval now{};
  gettimeofday(&now, nullptr);
  return static_cast<uint64_t>(now.tv_sec) * 1000 + now.tv_usec / 1000;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// Field accessors for StatsTable::total.
#define RG_FIELD(name) [](const Stats& s) -> const Counter& { return s.name; }

class InfoHandler final : public Handler {
 public:
  explicit InfoHandler(const HandlerContext& context)
      : config_(context.config), table_(context.stats), own_slot_(context.own_slot), upstreams_(context.upstreams) {}

  void handle(const Request& request, Response& response) const override {
    std::string wanted = request.params.is_string() ? lower(request.params.get<std::string>()) : "all";
    bool all = wanted == "all" || wanted == "default" || wanted == "everything";
    std::string text;
    if (all || wanted == "server") append_server(text);
    if (all || wanted == "clients") append_clients(text);
    if (all || wanted == "stats") append_stats(text);
    if (all || wanted == "errorstats") append_errors(text);
    if (all || wanted == "routes") append_routes(text);
    if (all || wanted == "upstreams") append_upstreams(text);
    if (all || wanted == "zookeeper") append_zookeeper(text);
    if (all || wanted == "latencystats") append_latencystats(text);
    if (all || wanted == "workers") append_workers(text);
    response.kind = "info";
    response.result = std::move(text);
  }

 private:
  static void line(std::string& text, std::string_view key, uint64_t value) {
    text.append(key).append(":").append(std::to_string(value)).append("\r\n");
  }

  void append_server(std::string& text) const {
    const Stats& own = table_.slot(own_slot_);
    text += "# Server\r\nrpcgate_version:" RPCGATE_VERSION "\r\n";
    text += "process_model:" + conf::to_string(config_.process.model) + "\r\n";
    line(text, "process_id", static_cast<uint64_t>(getpid()));
    line(text, "worker", own_slot_);
    line(text, "workers", live_workers());
    line(text, "uptime_in_seconds", (now_unix_ms() - own.started_unix_ms.get()) / 1000);
    for (size_t i = 0; i < config_.listeners.size(); ++i) {
      const auto& listener = config_.listeners[i];
      text += "listener_" + listener.name + ":address=" + listener.address.to_string() + ",codec=" + listener.codec +
              ",requests=" + std::to_string(table_.total([i](const Stats& s) -> const Counter& {
                return s.requests_by_listener[i];
              })) +
              ",errors=" +
              std::to_string(table_.total([i](const Stats& s) -> const Counter& { return s.errors_by_listener[i]; })) +
              "\r\n";
    }
    text += "\r\n";
  }

  void append_clients(std::string& text) const {
    text += "# Clients\r\n";
    line(text, "connected_clients", table_.total(RG_FIELD(connections_active)));
    text += "\r\n";
  }

  void append_stats(std::string& text) const {
    text += "# Stats\r\n";
    line(text, "total_connections_received", table_.total(RG_FIELD(connections_accepted)));
    line(text, "total_commands_processed", table_.total(RG_FIELD(requests)));
    line(text, "rejected_connections", table_.total(RG_FIELD(connections_rejected)));
    line(text, "idle_closed_connections", table_.total(RG_FIELD(connections_idle_closed)));
    line(text, "output_overflow_disconnections", table_.total(RG_FIELD(connections_output_overflow)));
    line(text, "protocol_errors", table_.total(RG_FIELD(protocol_errors)));
    line(text, "total_net_input_bytes", table_.total(RG_FIELD(bytes_in)));
    line(text, "total_net_output_bytes", table_.total(RG_FIELD(bytes_out)));
    text += "\r\n";
  }

  // In Redis's form, errorstat_<CODE>:count=N, and as Redis only for codes that occurred.
  void append_errors(std::string& text) const {
    text += "# Errorstats\r\n";
    for (size_t code = 1; code < Stats::kErrorCodes; ++code) {
      uint64_t count = table_.total([code](const Stats& s) -> const Counter& { return s.errors_by_code[code]; });
      if (count == 0) continue;
      text.append("errorstat_").append(error_code_name(static_cast<ErrorCode>(code))).append(":count=");
      text.append(std::to_string(count)).append("\r\n");
    }
    text += "\r\n";
  }

  void append_routes(std::string& text) const {
    text += "# Routes\r\n";
    for (size_t i = 0; i < config_.routes.size() && i < Stats::kMaxRoutes; ++i) {
      const auto& route = config_.routes[i];
      std::string target = route.handler.empty() ? "cluster:" + route.cluster : "handler:" + route.handler;
      text +=
          "route_" + std::to_string(i) + ":match=" + route.describe_match('|') + ",target=" + target + ",requests=" +
          std::to_string(table_.total([i](const Stats& s) -> const Counter& { return s.requests_by_route[i]; })) +
          ",errors=" +
          std::to_string(table_.total([i](const Stats& s) -> const Counter& { return s.errors_by_route[i]; })) + "\r\n";
    }
    text += "\r\n";
  }

  void append_upstreams(std::string& text) const {
    text += "# Upstreams\r\n";
    for (size_t i = 0; i < config_.clusters.size() && i < Stats::kMaxClusters; ++i) {
      const auto& cluster = config_.clusters[i];
      auto total = [&](Counter ClusterStats::*field) {
        return std::to_string(
            table_.total([i, field](const Stats& s) -> const Counter& { return s.clusters[i].*field; }));
      };
      text += "cluster_" + cluster.name + ":codec=" + cluster.codec +
              ",endpoints=" + std::to_string(cluster.endpoints.size()) + ",requests=" + total(&ClusterStats::requests) +
              ",answers=" + total(&ClusterStats::answers) + ",pending=" + total(&ClusterStats::pending) +
              ",retries=" + total(&ClusterStats::retries) + ",timeouts=" + total(&ClusterStats::timeouts) +
              ",connections=" + total(&ClusterStats::connections) + ",connects=" + total(&ClusterStats::connects) +
              ",connect_failures=" + total(&ClusterStats::connect_failures) +
              ",login_failures=" + total(&ClusterStats::login_failures) +
              ",health_checks=" + total(&ClusterStats::health_checks) +
              ",ejections=" + total(&ClusterStats::ejections) + ",pinned=" + total(&ClusterStats::pinned) +
              ",pins=" + total(&ClusterStats::pins) + ",replies_too_large=" + total(&ClusterStats::replies_too_large) +
              "\r\n";
    }
    text += "\r\n";
  }

  // The session is the master's; the endpoints and their health are this worker's view (each
  // worker judges health from its own connections).
  void append_zookeeper(std::string& text) const {
    if (config_.zookeeper.servers.empty()) return;
    const MasterStats& master = table_.master();
    text += "# ZooKeeper\r\nzookeeper_state:";
    text += MasterStats::zookeeper_state_name(master.zookeeper_state.get());
    text += "\r\n";
    line(text, "zookeeper_session_expiries", master.zookeeper_expiries.get());
    line(text, "zookeeper_endpoint_updates", master.zookeeper_updates.get());
    line(text, "zookeeper_registered_nodes", master.zookeeper_registered.get());
    line(text, "endpoints_as_seen_by_worker", own_slot_);
    if (upstreams_ != nullptr) {
      uint64_t now = upstreams_->now_ms();
      for (const auto& cluster : upstreams_->clusters()) {
        const auto& cluster_config = cluster->config();
        if (cluster_config.zookeeper_path.empty()) continue;
        auto& endpoints = cluster->endpoints();
        text += "cluster_" + cluster_config.name + ":path=" + cluster_config.zookeeper_path +
                ",endpoints=" + std::to_string(endpoints.size()) +
                ",leaving=" + std::to_string(cluster->retired().size()) + "\r\n";
        for (size_t i = 0; i < endpoints.size(); ++i) {
          const auto& endpoint = *endpoints[i];
          text += "cluster_" + cluster_config.name + "_endpoint" + std::to_string(i) + ":address=" + endpoint.name() +
                  ",weight=" + std::to_string(cluster->weights()[i]) + ",health=" + endpoint.health(now) +
                  ",pending=" + std::to_string(endpoint.pending()) +
                  ",connections=" + std::to_string(endpoint.connections()) + "\r\n";
        }
      }
    }
    text += "\r\n";
  }

  // As Redis's INFO latencystats: percentiles in microseconds, here per listener, route and
  // cluster (keys latency_percentiles_usec_listener_NAME, _route0, _cluster_NAME).
  void append_latencystats(std::string& text) const {
    text += "# Latencystats\r\n";
    auto line_of = [&](const std::string& key, const HistogramTotals& totals) {
      if (totals.count == 0) return;
      char values[128];
      std::snprintf(values, sizeof values, "p50=%.3f,p99=%.3f,p99.9=%.3f", totals.percentile_us(0.5),
                    totals.percentile_us(0.99), totals.percentile_us(0.999));
      text += "latency_percentiles_usec_" + key + ":" + values + "\r\n";
    };
    for (size_t i = 0; i < config_.listeners.size() && i < Stats::kMaxListeners; ++i)
      line_of("listener_" + config_.listeners[i].name,
              table_.histogram([i](const Stats& s) -> const LatencyHistogram& { return s.latency_by_listener[i]; }));
    for (size_t i = 0; i < config_.routes.size() && i < Stats::kMaxRoutes; ++i)
      line_of("route" + std::to_string(i),
              table_.histogram([i](const Stats& s) -> const LatencyHistogram& { return s.latency_by_route[i]; }));
    for (size_t i = 0; i < config_.clusters.size() && i < Stats::kMaxClusters; ++i)
      line_of("cluster_" + config_.clusters[i].name,
              table_.histogram([i](const Stats& s) -> const LatencyHistogram& { return s.clusters[i].latency; }));
    text += "\r\n";
  }

  void append_workers(std::string& text) const {
    text += "# Workers\r\n";
    for (size_t i = 0; i < table_.size(); ++i) {
      const Stats& s = table_.slot(i);
      if (s.pid.get() == 0) continue;  // a slot no worker holds now; its counts stay in the totals
      text += "worker_" + std::to_string(i) + ":pid=" + std::to_string(s.pid.get()) +
              ",connected_clients=" + std::to_string(s.connections_active.get()) +
              ",connections_received=" + std::to_string(s.connections_accepted.get()) +
              ",commands_processed=" + std::to_string(s.requests.get()) + ",errors=" + std::to_string(s.errors()) +
              ",net_input_bytes=" + std::to_string(s.bytes_in.get()) +
              ",net_output_bytes=" + std::to_string(s.bytes_out.get()) + "\r\n";
    }
    text += "\r\n";
  }

  size_t live_workers() const {
    size_t live = 0;
    for (size_t i = 0; i < table_.size(); ++i) live += table_.slot(i).pid.get() != 0;
    return live;
  }

  const conf::Config& config_;
  const StatsTable& table_;
  size_t own_slot_;
  const backends::Upstreams* upstreams_;
};

class StatsHandler final : public Handler {
 public:
  explicit StatsHandler(const HandlerContext& context) : config_(context.config), table_(context.stats) {}

  void handle(const Request&, Response& response) const override {
    response.kind = "stats";
    response.result = stats_json(config_, table_);
  }

 private:
  const conf::Config& config_;
  const StatsTable& table_;
};

#undef RG_FIELD

}  // namespace

std::unique_ptr<Handler> make_info(const HandlerContext& context) { return std::make_unique<InfoHandler>(context); }
std::unique_ptr<Handler> make_stats(const HandlerContext& context) { return std::make_unique<StatsHandler>(context); }

}  // namespace rpcgate::handlers
