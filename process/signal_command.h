// `rpcgate -s reload|stop|reopen`, as `nginx -s`: signals the running master named by the pid
// file of the configuration.
#pragma once

#include <string>

#include "conf/config.h"

namespace rpcgate {

// The signal for a command name (reload SIGHUP, stop SIGTERM, reopen SIGUSR1); 0 for an unknown
// name, with the reason in `error`.
int signal_for_command(const std::string& name, std::string& error);

// Sends `signum` to the master whose pid `config.process.pid_file` holds. Returns the exit
// status: 0 once sent, 1 with a message on stderr when there is no pid file, it is stale, or the
// signal cannot be sent.
int signal_master(const conf::Config& config, const std::string& command, int signum);

}  // namespace rpcgate
