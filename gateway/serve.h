// One serving process: an event loop with the Gateway, its signals, and (for a worker) a watch on
// the master. The body of the `single` model and of every worker of the multi-process models.
#pragma once

#include <string>
#include <vector>

#include "conf/config.h"

namespace rpcgate {

struct ServeOptions {
  std::string role = "single";   // for logs: "single", "worker 3"
  std::vector<int> listen_fds;   // inherited listening sockets, one per listener; empty = open here
  bool reuse_port = false;       // open the sockets here with SO_REUSEPORT
  int master_fd = -1;            // read end of the master's pipe: EOF means the master is gone
};

// Serves until SIGTERM/SIGINT (or the master's disappearance) has drained the gateway; returns
// the process exit code.
int serve(const conf::Config& config, const ServeOptions& options);

}  // namespace rpcgate
