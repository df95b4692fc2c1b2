#include "admin/metrics.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

#include "gateway/tls_stats.h"
#include "tls/tls_engine.h"

namespace rpcgate {
namespace {

using Field = std::function<const Counter&(const Stats&)>;

// Label values may hold anything a config file does (route patterns): escaped as the format says.
std::string escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// A bucket bound as le="5e-05", the form the series had from the start (a new form would be a
// new series to Prometheus, breaking every query over the change).
std::string bucket_bound(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

// Fixed-point with trailing zeros trimmed, never an exponent: "%g" prints a Unix time as
// 1.79661089e+09, seconds off, and Prometheus reads either form.
std::string seconds(double value) {
  char text[64];
  int length = std::snprintf(text, sizeof text, "%.6f", value);
  std::string out(text, static_cast<size_t>(std::clamp(length, 0, static_cast<int>(sizeof text) - 1)));
  while (out.size() > 1 && out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

class Writer {
 public:
  explicit Writer(const StatsTable& table) : table_(table) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    text_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    text_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }

  void sample(std::string_view name, std::string_view labels, uint64_t value) {
    sample_text(name, labels, std::to_string(value));
  }

  void sample_text(std::string_view name, std::string_view labels, const std::string& value) {
    text_.append(name);
    if (!labels.empty()) text_.append("{").append(labels).append("}");
    text_.append(" ").append(value).append("\n");
  }

  // One family with one series: the sum of `field` over every slot.
  void total(std::string_view name, std::string_view type, std::string_view help, const Field& field) {
    family(name, type, help);
    sample(name, "", table_.total(field));
  }

  // A histogram summed over every slot; `of` picks it from a slot.
  void histogram(std::string_view name, std::string_view labels,
                 const std::function<const LatencyHistogram&(const Stats&)>& of) {
    HistogramTotals totals = table_.histogram(of);
    std::string prefix = labels.empty() ? "" : std::string(labels) + ",";
    uint64_t cumulative = 0;
    const auto& bounds = LatencyHistogram::kBoundsUs;
    for (size_t i = 0; i <= bounds.size(); ++i) {
      cumulative += totals.buckets[i];
      std::string le = i < bounds.size() ? bucket_bound(static_cast<double>(bounds[i]) / 1e6) : "+Inf";
      sample(std::string(name) + "_bucket", prefix + "le=\"" + le + "\"", cumulative);
    }
    sample_text(std::string(name) + "_sum", labels, seconds(static_cast<double>(totals.sum_us) / 1e6));
    sample(std::string(name) + "_count", labels, totals.count);
  }

  std::string take() { return std::move(text_); }

 private:
  const StatsTable& table_;
  std::string text_;
};

void process_metrics(Writer& out, const conf::Config& config, const StatsTable& table) {
  const MasterStats& master = table.master();
  out.family("rpcgate_build_info", "gauge", "Always 1; the labels say which build and process model run.");
  out.sample("rpcgate_build_info",
             "version=\"" RPCGATE_VERSION "\",process_model=\"" + escape(conf::to_string(config.process.model)) + "\"",
             1);
  uint64_t started = master.started_unix_ms.get();
  if (started == 0) started = table.slot(0).started_unix_ms.get();  // model single: no master
  out.family("rpcgate_start_time_seconds", "gauge", "When the gateway (its master) started, in Unix seconds.");
  out.sample_text("rpcgate_start_time_seconds", "", seconds(static_cast<double>(started) / 1e3));
  uint64_t live = 0;
  for (size_t i = 0; i < table.size(); ++i) live += table.slot(i).pid.get() != 0;
  out.family("rpcgate_workers", "gauge", "Worker processes running now.");
  out.sample("rpcgate_workers", "", live);
  out.family("rpcgate_draining", "gauge", "1 once a drain (SIGTERM, SIGINT, POST /drain) has begun.");
  out.sample("rpcgate_draining", "", master.draining.get());
  out.family("rpcgate_healthcheck_failed", "gauge", "1 while POST /healthcheck/fail holds /readyz at 503.");
  out.sample("rpcgate_healthcheck_failed", "", master.healthcheck_failed.get());
  out.family("rpcgate_reloads_total", "counter", "Configurations applied by SIGHUP or POST /reload.");
  out.sample("rpcgate_reloads_total", "", master.reloads.get());
  out.family("rpcgate_reload_failures_total", "counter", "Reloads refused because the new configuration was invalid.");
  out.sample("rpcgate_reload_failures_total", "", master.reload_failures.get());
  out.family("rpcgate_worker_respawns_total", "counter", "Workers started again after they died.");
  out.sample("rpcgate_worker_respawns_total", "", master.respawns.get());

  out.family("rpcgate_worker_connections_active", "gauge", "Client connections open now, per worker.");
  for (size_t i = 0; i < table.size(); ++i)
    if (table.slot(i).pid.get() != 0)
      out.sample("rpcgate_worker_connections_active", "worker=\"" + std::to_string(i) + "\"",
                 table.slot(i).connections_active.get());
  out.family("rpcgate_worker_requests_total", "counter",
             "Requests decoded, per worker (a slot keeps counting across respawns).");
  for (size_t i = 0; i < table.size(); ++i)
    if (table.slot(i).pid.get() != 0)
      out.sample("rpcgate_worker_requests_total", "worker=\"" + std::to_string(i) + "\"", table.slot(i).requests.get());
}

void connection_metrics(Writer& out) {
  out.total("rpcgate_connections_active", "gauge", "Client connections open now.",
            [](const Stats& s) -> const Counter& { return s.connections_active; });
  out.total("rpcgate_connections_accepted_total", "counter", "Client connections accepted.",
            [](const Stats& s) -> const Counter& { return s.connections_accepted; });
  out.total("rpcgate_connections_rejected_total", "counter", "Connections refused for a listener's max_connections.",
            [](const Stats& s) -> const Counter& { return s.connections_rejected; });
  out.total("rpcgate_connections_idle_closed_total", "counter", "Connections closed after idle_timeout.",
            [](const Stats& s) -> const Counter& { return s.connections_idle_closed; });
  out.total("rpcgate_connections_output_overflow_total", "counter",
            "Clients disconnected for not reading their answers (output_limit).",
            [](const Stats& s) -> const Counter& { return s.connections_output_overflow; });
  out.total("rpcgate_protocol_errors_total", "counter", "Framing errors: the connection was closed.",
            [](const Stats& s) -> const Counter& { return s.protocol_errors; });
  out.total("rpcgate_login_failures_total", "counter", "Logins refused for a wrong user name or password.",
            [](const Stats& s) -> const Counter& { return s.login_failures; });
  out.total("rpcgate_received_bytes_total", "counter", "Bytes read from clients.",
            [](const Stats& s) -> const Counter& { return s.bytes_in; });
  out.total("rpcgate_sent_bytes_total", "counter", "Bytes written to clients.",
            [](const Stats& s) -> const Counter& { return s.bytes_out; });
  out.total("rpcgate_access_log_lines_total", "counter", "Access log lines written (or waiting to be).",
            [](const Stats& s) -> const Counter& { return s.access_log_lines; });
  out.total("rpcgate_access_log_dropped_total", "counter", "Access log lines lost: the disk did not keep up.",
            [](const Stats& s) -> const Counter& { return s.access_log_dropped; });
}

void request_metrics(Writer& out, const conf::Config& config, const StatsTable& table) {
  auto listener_labels = [&](size_t i) {
    const auto& listener = config.listeners[i];
    return "listener=\"" + escape(listener.name) + "\",codec=\"" + escape(listener.codec) + "\"";
  };
  size_t listeners = std::min(config.listeners.size(), Stats::kMaxListeners);
  out.family("rpcgate_requests_total", "counter", "Requests decoded, by listener.");
  for (size_t i = 0; i < listeners; ++i)
    out.sample("rpcgate_requests_total", listener_labels(i),
               table.total([i](const Stats& s) -> const Counter& { return s.requests_by_listener[i]; }));
  out.family("rpcgate_request_errors_total", "counter", "Requests answered with an error, by listener.");
  for (size_t i = 0; i < listeners; ++i)
    out.sample("rpcgate_request_errors_total", listener_labels(i),
               table.total([i](const Stats& s) -> const Counter& { return s.errors_by_listener[i]; }));
  out.family("rpcgate_errors_total", "counter", "Error answers, by error code.");
  for (size_t code = 1; code < Stats::kErrorCodes; ++code)
    out.sample("rpcgate_errors_total", "code=\"" + std::string(error_code_name(static_cast<ErrorCode>(code))) + "\"",
               table.total([code](const Stats& s) -> const Counter& { return s.errors_by_code[code]; }));
  out.family("rpcgate_request_duration_seconds", "histogram",
             "From the read that completed a request to its answer, by listener.");
  for (size_t i = 0; i < listeners; ++i)
    out.histogram("rpcgate_request_duration_seconds", listener_labels(i),
                  [i](const Stats& s) -> const LatencyHistogram& { return s.latency_by_listener[i]; });

  size_t routes = std::min(config.routes.size(), Stats::kMaxRoutes);
  auto route_labels = [&](size_t i) {
    const auto& route = config.routes[i];
    std::string target = route.cluster.empty() ? "handler:" + route.handler : "cluster:" + route.cluster;
    return "route=\"" + std::to_string(i) + "\",match=\"" + escape(route.describe_match(',')) + "\",target=\"" +
           escape(target) + "\"";
  };
  out.family("rpcgate_route_requests_total", "counter", "Requests each route took, in config order.");
  for (size_t i = 0; i < routes; ++i)
    out.sample("rpcgate_route_requests_total", route_labels(i),
               table.total([i](const Stats& s) -> const Counter& { return s.requests_by_route[i]; }));
  out.family("rpcgate_route_errors_total", "counter", "Error answers, by route.");
  for (size_t i = 0; i < routes; ++i)
    out.sample("rpcgate_route_errors_total", route_labels(i),
               table.total([i](const Stats& s) -> const Counter& { return s.errors_by_route[i]; }));
  out.family("rpcgate_route_duration_seconds", "histogram", "Request latency, by route.");
  for (size_t i = 0; i < routes; ++i)
    out.histogram("rpcgate_route_duration_seconds", route_labels(i),
                  [i](const Stats& s) -> const LatencyHistogram& { return s.latency_by_route[i]; });
}

void upstream_metrics(Writer& out, const conf::Config& config, const StatsTable& table) {
  size_t clusters = std::min(config.clusters.size(), Stats::kMaxClusters);
  if (clusters == 0) return;
  auto labels = [&](size_t i) { return "cluster=\"" + escape(config.clusters[i].name) + "\""; };
  struct Series {
    const char* name;
    const char* type;
    const char* help;
    Counter ClusterStats::*field;
  };
  static const Series kSeries[] = {
      {"rpcgate_upstream_requests_total", "counter", "Calls submitted to the cluster, refused ones included.",
       &ClusterStats::requests},
      {"rpcgate_upstream_answers_total", "counter", "Answers read from its upstreams (their error answers included).",
       &ClusterStats::answers},
      {"rpcgate_upstream_retries_total", "counter", "Attempts sent again after a failure.", &ClusterStats::retries},
      {"rpcgate_upstream_timeouts_total", "counter", "Attempts with no answer in time.", &ClusterStats::timeouts},
      {"rpcgate_upstream_connects_total", "counter", "Upstream connections opened.", &ClusterStats::connects},
      {"rpcgate_upstream_connect_failures_total", "counter", "Connects refused or timed out.",
       &ClusterStats::connect_failures},
      {"rpcgate_upstream_health_checks_total", "counter",
       "Active health checks sent; requests and answers count clients' calls only.", &ClusterStats::health_checks},
      {"rpcgate_upstream_login_failures_total", "counter",
       "Connections whose login (the cluster's username and password) the upstream refused.",
       &ClusterStats::login_failures},
      {"rpcgate_upstream_ejections_total", "counter", "Endpoints ejected after consecutive failures.",
       &ClusterStats::ejections},
      {"rpcgate_upstream_pins_total", "counter", "Clients given an upstream connection of their own.",
       &ClusterStats::pins},
      {"rpcgate_upstream_replies_too_large_total", "counter",
       "Replies over the cluster's limits, passed over; their requests got TOO_LARGE.",
       &ClusterStats::replies_too_large},
      {"rpcgate_upstream_pending", "gauge", "Calls waiting or in flight now.", &ClusterStats::pending},
      {"rpcgate_upstream_connections", "gauge", "Pool connections open now (the pool size).",
       &ClusterStats::connections},
      {"rpcgate_upstream_pinned_connections", "gauge", "Pinned connections open now.", &ClusterStats::pinned},
  };
  for (const Series& series : kSeries) {
    out.family(series.name, series.type, series.help);
    for (size_t i = 0; i < clusters; ++i) {
      auto field = series.field;
      out.sample(series.name, labels(i),
                 table.total([i, field](const Stats& s) -> const Counter& { return s.clusters[i].*field; }));
    }
  }
  out.family("rpcgate_upstream_endpoints", "gauge", "Endpoints in the cluster's set now (static or discovered).");
  for (size_t i = 0; i < clusters; ++i) {
    uint64_t most = 0;
    for (size_t w = 0; w < table.size(); ++w)
      if (table.slot(w).pid.get() != 0) most = std::max(most, table.slot(w).clusters[i].endpoints.get());
    out.sample("rpcgate_upstream_endpoints", labels(i), most);
  }
  out.family("rpcgate_upstream_endpoints_usable", "gauge",
             "Endpoints the balancer may choose now (not ejected, not failing checks, not in connect backoff), "
             "per worker: each judges health from its own connections.");
  for (size_t i = 0; i < clusters; ++i)
    for (size_t w = 0; w < table.size(); ++w)
      if (table.slot(w).pid.get() != 0)
        out.sample("rpcgate_upstream_endpoints_usable", labels(i) + ",worker=\"" + std::to_string(w) + "\"",
                   table.slot(w).clusters[i].endpoints_usable.get());
  out.family("rpcgate_upstream_duration_seconds", "histogram",
             "From a call's read to its upstream answer, by cluster.");
  for (size_t i = 0; i < clusters; ++i)
    out.histogram("rpcgate_upstream_duration_seconds", labels(i),
                  [i](const Stats& s) -> const LatencyHistogram& { return s.clusters[i].latency; });
}

void tls_metrics(Writer& out, const conf::Config& config, const StatsTable& table) {
  const std::vector<TlsSide> sides = tls_sides(config);
  if (sides.empty()) return;
  auto labels = [](const TlsSide& side) { return std::string(side.kind) + "=\"" + escape(side.name) + "\""; };
  out.family("rpcgate_tls_handshakes_total", "counter",
             "TLS handshakes completed, by listener (with clients) or cluster (with its upstreams).");
  for (const TlsSide& side : sides)
    out.sample("rpcgate_tls_handshakes_total", labels(side),
               table.total([&](const Stats& s) -> const Counter& { return side.counters(s).handshakes; }));
  out.family("rpcgate_tls_handshake_failures_total", "counter",
             "TLS handshakes that failed, by listener or cluster and reason (verify, protocol, timeout, alpn, other).");
  for (const TlsSide& side : sides)
    for (size_t kind = 0; kind < TlsCounters::kFailureKinds; ++kind)
      out.sample("rpcgate_tls_handshake_failures_total",
                 labels(side) + ",reason=\"" + std::string(tls::kTlsFailureNames[kind]) + "\"",
                 table.total([&](const Stats& s) -> const Counter& { return side.counters(s).failures[kind]; }));
  out.family("rpcgate_tls_cert_expiry_seconds", "gauge",
             "When the first certificate in each loaded file expires, in Unix seconds, by listener or cluster, "
             "role (cert, ca, client_ca) and file.");
  for (const TlsSide& side : sides)
    for (const auto& file : side.files)
      out.sample_text("rpcgate_tls_cert_expiry_seconds",
                      labels(side) + ",role=\"" + escape(file.role) + "\",file=\"" + escape(file.path) + "\"",
                      std::to_string(file.expires_unix));
}

void zookeeper_metrics(Writer& out, const conf::Config& config, const StatsTable& table) {
  if (config.zookeeper.servers.empty()) return;
  const MasterStats& master = table.master();
  out.family("rpcgate_zookeeper_connected", "gauge", "1 while the ZooKeeper session is connected.");
  out.sample("rpcgate_zookeeper_connected", "", master.zookeeper_state.get() == MasterStats::kConnected);
  out.family("rpcgate_zookeeper_session_expiries_total", "counter",
             "ZooKeeper sessions that expired and were replaced.");
  out.sample("rpcgate_zookeeper_session_expiries_total", "", master.zookeeper_expiries.get());
  out.family("rpcgate_zookeeper_endpoint_updates_total", "counter", "Endpoint set changes read from ZooKeeper.");
  out.sample("rpcgate_zookeeper_endpoint_updates_total", "", master.zookeeper_updates.get());
  out.family("rpcgate_zookeeper_registered_nodes", "gauge", "This gateway's own nodes in ZooKeeper now.");
  out.sample("rpcgate_zookeeper_registered_nodes", "", master.zookeeper_registered.get());
}

}  // namespace

std::string render_metrics(const conf::Config& config, const StatsTable& table) {
  Writer out(table);
  process_metrics(out, config, table);
  connection_metrics(out);
  request_metrics(out, config, table);
  upstream_metrics(out, config, table);
  tls_metrics(out, config, table);
  zookeeper_metrics(out, config, table);
  return out.take();
}

}  // namespace rpcgate
