#include "process/signal_command.h"

#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "process/pid_file.h"

namespace rpcgate {
namespace {

// The name the kernel keeps for `pid` (its executable's, cut to 15 bytes), or "" if it is gone.
std::string process_name(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

}  // namespace

int signal_for_command(const std::string& name, std::string& error) {
  if (name == "reload") return SIGHUP;
  if (name == "stop") return SIGTERM;
  if (name == "reopen") return SIGUSR1;
  error = "unknown signal '" + name + "'; expected reload, stop or reopen";
  // nginx's graceful stop is `quit`; rpcgate's only stop is graceful, so the name would mislead
  // whoever expects nginx's `stop` to be the fast one.
  if (name == "quit") error += " (stop drains gracefully, as nginx's quit does)";
  return 0;
}

int signal_master(const conf::Config& config, const std::string& command, int signum) {
  const std::string& path = config.process.pid_file;
  if (path.empty()) {
    std::fprintf(stderr,
                 "rpcgate: -s %s: %s names no process.pid_file, so the running master cannot be found; "
                 "set one (the master writes it at start) or signal the master yourself\n",
                 command.c_str(), config.path.c_str());
    return 1;
  }
  pid_t pid = 0;
  std::string error;
  if (!read_pid_file(path, pid, error)) {
    std::fprintf(stderr, "rpcgate: -s %s: %s\n", command.c_str(), error.c_str());
    return 1;
  }
  // A stale file's pid may since have been given to another process: signal only an rpcgate.
  std::string name = process_name(pid);
  if (name.empty()) {
    std::fprintf(stderr, "rpcgate: -s %s: the pid file %s names pid %d, which is not running (a stale pid file)\n",
                 command.c_str(), path.c_str(), static_cast<int>(pid));
    return 1;
  }
  if (name.rfind("rpcgate", 0) != 0) {
    std::fprintf(stderr,
                 "rpcgate: -s %s: the pid file %s names pid %d, which is %s, not rpcgate (a stale pid file); "
                 "nothing sent\n",
                 command.c_str(), path.c_str(), static_cast<int>(pid), name.c_str());
    return 1;
  }
  if (kill(pid, signum) != 0) {
    std::fprintf(stderr, "rpcgate: -s %s: cannot signal pid %d: %s%s\n", command.c_str(), static_cast<int>(pid),
                 std::strerror(errno), errno == EPERM ? " (run it as root or as the user rpcgate runs as)" : "");
    return 1;
  }
  std::printf("rpcgate: sent SIG%s to the master, pid %d\n", sigabbrev_np(signum), static_cast<int>(pid));
  return 0;
}

}  // namespace rpcgate
