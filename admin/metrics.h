// The Prometheus text exposition (format 0.0.4) of the shared stats: totals over every worker,
// with a `worker` label only on the few series that tell workers apart (connections, requests,
// usable endpoints). Pure: reads the table, writes text.
#pragma once

#include <string>

#include "conf/config.h"
#include "core/stats.h"

namespace rpcgate {

std::string render_metrics(const conf::Config& config, const StatsTable& table);

}  // namespace rpcgate
