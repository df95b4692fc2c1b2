// The figures of the shared stats as one JSON object: what the admin port's GET /stats returns
// and what the `stats` handler answers on the data ports. Pure: reads the table.
#pragma once

#include "conf/config.h"
#include "core/message.h"
#include "core/stats.h"

namespace rpcgate {

Json stats_json(const conf::Config& config, const StatsTable& table);

// Every cluster's endpoints as each live worker last reported them (EndpointReport):
// {"NAME": {"endpoints": [{"address", "weight", "workers": [{"worker", "health", "pending",
// "connections"}]}], "leaving": N}}.
Json clusters_json(const StatsTable& table);

// {"count", "p50_ms", "p90_ms", "p99_ms", "p999_ms"} of a histogram summed over the workers.
Json latency_json(const HistogramTotals& totals);

}  // namespace rpcgate
