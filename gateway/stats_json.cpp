#include "gateway/stats_json.h"

#include <cmath>

#include "gateway/tls_stats.h"

namespace rpcgate {
namespace {

#define RG_FIELD(name) [](const Stats& s) -> const Counter& { return s.name; }

double ms(double us) { return std::round(us) / 1000.0; }

}  // namespace

Json latency_json(const HistogramTotals& totals) {
  return {{"count", totals.count},
          {"p50_ms", ms(totals.percentile_us(0.50))},
          {"p90_ms", ms(totals.percentile_us(0.90))},
          {"p99_ms", ms(totals.percentile_us(0.99))},
          {"p999_ms", ms(totals.percentile_us(0.999))}};
}

Json clusters_json(const StatsTable& table) {
  Json out = Json::object();
  for (size_t w = 0; w < table.size(); ++w) {
    if (table.slot(w).pid.get() == 0) continue;
    Json report = Json::parse(table.slot(w).endpoints.read(), nullptr, false);
    if (!report.is_object() || report.contains("truncated")) continue;  // none yet, or too long
    for (const auto& [name, cluster] : report.items()) {
      if (!cluster.is_object()) continue;
      Json& merged = out[name];
      if (!merged.contains("endpoints")) merged = {{"endpoints", Json::array()}, {"leaving", 0}};
      merged["leaving"] = merged["leaving"].get<uint64_t>() + cluster.value("leaving", uint64_t{0});
      for (const Json& endpoint : cluster.value("endpoints", Json::array())) {
        if (!endpoint.is_object()) continue;
        Json view = {{"worker", w},
                     {"health", endpoint.value("health", "")},
                     {"pending", endpoint.value("pending", 0)},
                     {"connections", endpoint.value("connections", 0)}};
        Json* entry = nullptr;
        for (Json& known : merged["endpoints"])
          if (known["address"] == endpoint.value("address", "")) entry = &known;
        if (entry == nullptr) {
          merged["endpoints"].push_back({{"address", endpoint.value("address", "")},
                                         {"weight", endpoint.value("weight", 1)},
                                         {"workers", Json::array()}});
          entry = &merged["endpoints"].back();
        }
        (*entry)["workers"].push_back(std::move(view));
      }
    }
  }
  return out;
}

Json stats_json(const conf::Config& config, const StatsTable& table) {
  Json errors = Json::object();
  for (size_t code = 1; code < Stats::kErrorCodes; ++code)
    errors[std::string(error_code_name(static_cast<ErrorCode>(code)))] =
        table.total([code](const Stats& s) -> const Counter& { return s.errors_by_code[code]; });
  Json workers = Json::array();
  for (size_t i = 0; i < table.size(); ++i) {
    const Stats& s = table.slot(i);
    if (s.pid.get() == 0) continue;
    workers.push_back({{"slot", i},
                       {"pid", s.pid.get()},
                       {"connections_active", s.connections_active.get()},
                       {"requests", s.requests.get()},
                       {"errors", s.errors()}});
  }
  Json listeners = Json::object();
  for (size_t i = 0; i < config.listeners.size() && i < Stats::kMaxListeners; ++i)
    listeners[config.listeners[i].name] = {
        {"codec", config.listeners[i].codec},
        {"requests", table.total([i](const Stats& s) -> const Counter& { return s.requests_by_listener[i]; })},
        {"errors", table.total([i](const Stats& s) -> const Counter& { return s.errors_by_listener[i]; })},
        {"latency", latency_json(table.histogram(
                        [i](const Stats& s) -> const LatencyHistogram& { return s.latency_by_listener[i]; }))}};
  Json routes = Json::array();
  for (size_t i = 0; i < config.routes.size() && i < Stats::kMaxRoutes; ++i) {
    const auto& route = config.routes[i];
    routes.push_back(
        {{"route", i},
         {"target", route.cluster.empty() ? "handler:" + route.handler : "cluster:" + route.cluster},
         {"requests", table.total([i](const Stats& s) -> const Counter& { return s.requests_by_route[i]; })},
         {"errors", table.total([i](const Stats& s) -> const Counter& { return s.errors_by_route[i]; })},
         {"latency", latency_json(table.histogram(
                         [i](const Stats& s) -> const LatencyHistogram& { return s.latency_by_route[i]; }))}});
  }
  Json clusters = Json::object();
  for (size_t i = 0; i < config.clusters.size() && i < Stats::kMaxClusters; ++i) {
    auto total = [&](Counter ClusterStats::*field) {
      return table.total([i, field](const Stats& s) -> const Counter& { return s.clusters[i].*field; });
    };
    clusters[config.clusters[i].name] = {
        {"requests", total(&ClusterStats::requests)},
        {"answers", total(&ClusterStats::answers)},
        {"pending", total(&ClusterStats::pending)},
        {"retries", total(&ClusterStats::retries)},
        {"timeouts", total(&ClusterStats::timeouts)},
        {"connections", total(&ClusterStats::connections)},
        {"connects", total(&ClusterStats::connects)},
        {"connect_failures", total(&ClusterStats::connect_failures)},
        {"login_failures", total(&ClusterStats::login_failures)},
        {"health_checks", total(&ClusterStats::health_checks)},
        {"ejections", total(&ClusterStats::ejections)},
        {"pinned", total(&ClusterStats::pinned)},
        {"pins", total(&ClusterStats::pins)},
        {"replies_too_large", total(&ClusterStats::replies_too_large)},
        {"latency", latency_json(table.histogram(
                        [i](const Stats& s) -> const LatencyHistogram& { return s.clusters[i].latency; }))}};
  }
  const MasterStats& master = table.master();
  Json result = {
      {"connections",
       {{"active", table.total(RG_FIELD(connections_active))},
        {"accepted", table.total(RG_FIELD(connections_accepted))},
        {"rejected", table.total(RG_FIELD(connections_rejected))},
        {"idle_closed", table.total(RG_FIELD(connections_idle_closed))},
        {"output_overflow", table.total(RG_FIELD(connections_output_overflow))}}},
      {"requests", table.total(RG_FIELD(requests))},
      {"protocol_errors", table.total(RG_FIELD(protocol_errors))},
      {"login_failures", table.total(RG_FIELD(login_failures))},
      {"errors", std::move(errors)},
      {"bytes_in", table.total(RG_FIELD(bytes_in))},
      {"bytes_out", table.total(RG_FIELD(bytes_out))},
      {"access_log",
       {{"lines", table.total(RG_FIELD(access_log_lines))}, {"dropped", table.total(RG_FIELD(access_log_dropped))}}},
      {"listeners", std::move(listeners)},
      {"routes", std::move(routes)},
      {"clusters", std::move(clusters)},
      {"workers", std::move(workers)},
      {"master",
       {{"reloads", master.reloads.get()},
        {"reload_failures", master.reload_failures.get()},
        {"respawns", master.respawns.get()},
        {"draining", master.draining.get() != 0}}},
  };
  if (!tls_sides(config).empty()) result["tls"] = tls_stats_json(config, table);
  if (!config.zookeeper.servers.empty()) {
    result["zookeeper"] = {{"state", MasterStats::zookeeper_state_name(master.zookeeper_state.get())},
                           {"session_expiries", master.zookeeper_expiries.get()},
                           {"endpoint_updates", master.zookeeper_updates.get()},
                           {"registered_nodes", master.zookeeper_registered.get()}};
  }
  return result;
}

#undef RG_FIELD

}  // namespace rpcgate
