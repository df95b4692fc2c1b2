// The master of the multi-process models: binds the listening sockets, forks the workers, and
// then only supervises them (reaps, respawns with backoff, forwards signals, drains on exit).
#pragma once

#include <string>

#include "conf/config.h"
#include "process/systemd_notify.h"

namespace rpcgate {

// Runs until the workers have drained after SIGTERM/SIGINT; returns the process exit code.
// SIGHUP re-reads `config_path`. `notifier` tells systemd when the workers serve, reload and drain.
int run_master(const std::string& config_path, conf::Config config, SystemdNotifier notifier = {});

}  // namespace rpcgate
