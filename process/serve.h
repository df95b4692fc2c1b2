// One serving process: an event loop with the Gateway, its signals, and (for a worker) a watch on
// the master. The body of the `single` model and of every worker of the multi-process models.
#pragma once

#include <string>
#include <vector>

#include "conf/config.h"
#include "core/stats.h"
#include "gateway/gateway.h"
#include "process/systemd_notify.h"

namespace rpcgate {

struct ServeOptions {
  std::string role = "single";  // for logs: "single", "worker 3"
  // A worker thread of model threads: its own loop, and no signal handling (the process's
  // signals are the master's); the master's commands come over the control channel instead.
  bool thread = false;
  Sockets sockets;                                  // where connections come from (default: listen here)
  int master_fd = -1;                               // read end of the master's pipe: EOF means the master is gone
  int control_fd = -1;                              // this worker's end of its control channel (control_channel.h)
  const discovery::Snapshot* discovered = nullptr;  // what the master had discovered at the fork
  StatsTable* stats = nullptr;                      // the shared counters (a worker); null = a table of one here
  size_t stats_slot = 0;
  // The single process, started by systemd: told READY=1 once it serves, STOPPING=1 on a drain.
  // Workers have none: their master speaks for them.
  SystemdNotifier* notifier = nullptr;
};

// Serves until SIGTERM/SIGINT (or the master's disappearance, or its drain command) has drained
// the gateway; returns the exit code.
int serve(const conf::Config& config, const ServeOptions& options);

}  // namespace rpcgate
