// The master of the multi-process models: binds the listening sockets, forks the workers, and
// then only supervises them (reaps, respawns with backoff, forwards signals, drains on exit).
#pragma once

#include "conf/config.h"

namespace rpcgate {

// Runs until the workers have drained after SIGTERM/SIGINT; returns the process exit code.
int run_master(const conf::Config& config);

}  // namespace rpcgate
