// The TLS figures of listeners and clusters with `tls:`, as /metrics and /stats show them: the
// handshakes each completed and those that failed by kind (summed over the workers' slots), and
// when each certificate file it loaded expires. Pure: reads the configuration and the table.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "core/message.h"
#include "core/stats.h"
#include "tls/certificate_files.h"

namespace rpcgate {

// One listener or cluster with `tls:`.
struct TlsSide {
  std::string_view kind;  // "listener" or "cluster": the metrics label that names it
  const std::string& name;
  std::function<const TlsCounters&(const Stats&)> counters;  // its entry in a slot
  const std::vector<tls::CertificateFile>& files;
};

// Every listener, then every cluster, with `tls:` (and within the table's bounds), in config order.
std::vector<TlsSide> tls_sides(const conf::Config& config);

// {"listeners": {NAME: {"handshakes", "handshake_failures": {"verify", ...}, "certificates":
// [{"role", "file", "expires_unix", "expires_in_seconds"}]}}, "clusters": {...}}.
Json tls_stats_json(const conf::Config& config, const StatsTable& table);

}  // namespace rpcgate
