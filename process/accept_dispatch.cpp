// The models in which the master accepts connections itself: fdpass passes each to the least
// loaded worker (gateway/fd_passing.h holds both ends of that socket), fork serves each in a child
// process of its own and reaps it.
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "core/log.h"
#include "gateway/fd_passing.h"
#include "process/master_internal.h"

namespace rpcgate {

// Model fork: the master accepted `fd` on listener `listener`; a child serves it and exits.
void Master::accept_and_fork(int listen_fd, size_t listener) {
  constexpr int kAcceptsPerWakeup = 64;  // then the signals get their turn
  for (int n = 0; n < kAcceptsPerWakeup && children_.size() < config_->process.max_children; ++n) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        LOG_WARN("master: accept: %s", strerror(errno));
      return;
    }
    size_t stats_slot = free_stats_slot();
    pid_t pid = fork();
    if (pid == 0) run_child(fd, listener, stats_slot);
    close(fd);  // the child holds its own copy
    if (pid < 0) {
      LOG_ERROR("master: fork: %s; closed the connection", strerror(errno));
      return;
    }
    children_[pid] = stats_slot;
  }
}

// In the child of model fork: serves its one connection, then exits. It holds none of the
// master's listening sockets, so a drain's closing them refuses new connections at once.
void Master::run_child(int fd, size_t listener, size_t stats_slot) {
  ServeOptions options;
  options.role = "connection child";
  options.stats = stats_.get();
  options.stats_slot = stats_slot;
  become_child(options);  // the endpoints as of now: a child gets no updates
  for (const auto& [unused, listen_fd] : listen_fds_) close(listen_fd);
  options.sockets.connection_fd = fd;
  options.sockets.connection_listener = listener;
  exit(serve(*config_, options));
}

void Master::on_child_exit(std::map<pid_t, size_t>::iterator child, int status) {
  Stats& stats = stats_->slot(child->second);
  stats.pid.set(0);
  stats.connections_active.set(0);
  // A clean exit is the normal end of every connection; anything else is worth a line.
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    LOG_WARN("master: connection child (pid %d) %s", static_cast<int>(child->first), describe_status(status).c_str());
  children_.erase(child);
}

// fdpass: the worker with the fewest connections, counting those passed but not yet taken.
WorkerSlot* Master::least_loaded(const std::vector<WorkerSlot*>& excluded) {
  WorkerSlot* best = nullptr;
  uint64_t best_load = UINT64_MAX;
  for (auto& slot : slots_) {
    if (!slot.running() || slot.retiring || slot.channel < 0) continue;
    if (std::find(excluded.begin(), excluded.end(), &slot) != excluded.end()) continue;
    const Stats& stats = stats_->slot(slot.stats_slot);
    uint64_t taken = stats.connections_accepted.get() - slot.accepted_base;
    uint64_t in_flight = slot.passed > taken ? slot.passed - taken : 0;
    uint64_t load = stats.connections_active.get() + in_flight;
    if (load < best_load) {
      best = &slot;
      best_load = load;
    }
  }
  return best;
}

void Master::accept_and_pass(int listen_fd, size_t listener) {
  constexpr int kAcceptsPerWakeup = 64;  // then the signals get their turn
  for (int n = 0; n < kAcceptsPerWakeup; ++n) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        LOG_WARN("master: accept: %s", strerror(errno));
      return;
    }
    std::vector<WorkerSlot*> refused;
    bool passed = false;
    while (WorkerSlot* slot = least_loaded(refused)) {
      if (pass_connection(slot->channel, fd, listener)) {
        ++slot->passed;
        passed = true;
        break;
      }
      refused.push_back(slot);  // its channel is full or it is gone: the next one
    }
    if (!passed) LOG_WARN("master: no worker could take a connection on listener %zu; closed it", listener);
    close(fd);  // the worker holds its own copy now
  }
}

}  // namespace rpcgate
