#include "gateway/tls_stats.h"

#include <ctime>

#include "tls/tls_engine.h"

namespace rpcgate {

static_assert(std::size(tls::kTlsFailureNames) == TlsCounters::kFailureKinds, "a counter for every kind of failure");

std::vector<TlsSide> tls_sides(const conf::Config& config) {
  std::vector<TlsSide> sides;
  for (size_t i = 0; i < config.listeners.size() && i < Stats::kMaxListeners; ++i) {
    const auto& listener = config.listeners[i];
    if (!listener.tls || listener.tls->context == nullptr) continue;
    sides.push_back(TlsSide{"listener", listener.name,
                            [i](const Stats& s) -> const TlsCounters& { return s.tls_by_listener[i]; },
                            listener.tls->context->files()});
  }
  for (size_t i = 0; i < config.clusters.size() && i < Stats::kMaxClusters; ++i) {
    const auto& cluster = config.clusters[i];
    if (!cluster.tls || cluster.tls->context == nullptr) continue;
    sides.push_back(TlsSide{"cluster", cluster.name,
                            [i](const Stats& s) -> const TlsCounters& { return s.clusters[i].tls; },
                            cluster.tls->context->files()});
  }
  return sides;
}

Json tls_stats_json(const conf::Config& config, const StatsTable& table) {
  Json out = {{"listeners", Json::object()}, {"clusters", Json::object()}};
  const auto now = static_cast<int64_t>(std::time(nullptr));
  for (const TlsSide& side : tls_sides(config)) {
    Json failures = Json::object();
    for (size_t kind = 0; kind < TlsCounters::kFailureKinds; ++kind)
      failures[std::string(tls::kTlsFailureNames[kind])] =
          table.total([&](const Stats& s) -> const Counter& { return side.counters(s).failures[kind]; });
    Json certificates = Json::array();
    for (const auto& file : side.files)
      certificates.push_back({{"role", file.role},
                              {"file", file.path},
                              {"expires_unix", file.expires_unix},
                              {"expires_in_seconds", file.expires_unix - now}});
    out[std::string(side.kind) + "s"][side.name] = {
        {"handshakes", table.total([&](const Stats& s) -> const Counter& { return side.counters(s).handshakes; })},
        {"handshake_failures", std::move(failures)},
        {"certificates", std::move(certificates)}};
  }
  return out;
}

}  // namespace rpcgate
