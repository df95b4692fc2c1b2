// The `single` process model: one process, one event loop, serving every listener. Also the
// body each worker runs in the multi-process models.
#pragma once

#include "conf/config.h"

namespace rpcgate {

// Serves until SIGTERM/SIGINT has drained the gateway; returns the process exit code.
int run_single_process(const conf::Config& config);

}  // namespace rpcgate
