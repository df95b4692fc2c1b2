// The master's worker slots: spawning a worker (a forked process or, in model threads, a thread),
// reaping it, respawning it with backoff, giving up on one that cannot start, and signalling them.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "core/log.h"
#include "process/control_channel.h"
#include "process/master_internal.h"

namespace rpcgate {
namespace {

using std::chrono::milliseconds;

// A worker that dies sooner than this after its start counts as failing to start.
constexpr milliseconds kStartupGrace{1000};
// This many start-up deaths in a row and the slot is given up: respawning would only spin.
constexpr int kCrashLoopLimit = 5;
constexpr milliseconds kFirstBackoff{100};
constexpr milliseconds kMaxBackoff{10000};

}  // namespace

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by SIG") + sigabbrev_np(WTERMSIG(status));
  return "stopped";
}

unsigned Master::worker_count(const conf::Config& config) {
  if (config.process.workers > 0) return config.process.workers;
  return static_cast<unsigned>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
}

// A stats slot no live worker or child holds (reload() and max_children make sure there is one).
size_t Master::free_stats_slot() const {
  std::vector<bool> taken(stats_->size());
  for (const auto& slot : slots_) taken[slot.stats_slot] = true;
  for (const auto& [unused, stats_slot] : children_) taken[stats_slot] = true;
  auto free = std::find(taken.begin(), taken.end(), false);
  return free == taken.end() ? stats_->size() - 1 : static_cast<size_t>(free - taken.begin());
}

void Master::spawn_generation(unsigned count) {
  ++generation_;
  for (unsigned i = 0; i < count; ++i) {
    WorkerSlot slot;
    slot.index = static_cast<int>(i);
    slot.generation = generation_;
    slot.stats_slot = free_stats_slot();
    slots_.push_back(std::move(slot));
    spawn(slots_.back());
  }
}

// A socket pair to a worker: the master's end non-blocking. False (logged) when it fails.
bool Master::open_pair(int& master_end, int& worker_end) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    LOG_ERROR("master: socketpair: %s; retrying", strerror(errno));
    return false;
  }
  fcntl(pair[0], F_SETFL, O_NONBLOCK);
  master_end = pair[0];
  worker_end = pair[1];
  return true;
}

void Master::spawn(WorkerSlot& slot) {
  slot.respawn_pending = false;
  slot.control_out.clear();
  slot.control_dirty = false;  // the worker starts from the snapshot it inherits
  slot.ready = false;
  int control_end = -1;
  int worker_end = -1;  // fdpass: the worker's end of the channel connections come over
  bool fdpass = config_->process.model == conf::ProcessModel::kFdpass;
  if (!open_pair(slot.control, control_end) || (fdpass && !open_pair(slot.channel, worker_end))) {
    close_control(slot);
    if (control_end >= 0) close(control_end);
    schedule_respawn(slot, kMaxBackoff);
    return;
  }
  if (fdpass) {
    slot.passed = 0;
    slot.accepted_base = stats_->slot(slot.stats_slot).connections_accepted.get();
  }
  if (threads()) {
    start_thread(slot, control_end);
    return;
  }
  if (zookeeper_) {
    // Refreshes socket_fd(), which the worker closes: the library may have reconnected since.
    pollfd unused{};
    int wait = 0;
    zookeeper_->poll_interest(unused, wait);
  }
  pid_t pid = fork();
  if (pid == 0) run_worker(slot, worker_end, control_end);
  if (worker_end >= 0) close(worker_end);
  close(control_end);
  if (pid < 0) {
    close_control(slot);
    LOG_ERROR("master: fork: %s; retrying", strerror(errno));
    schedule_respawn(slot, kMaxBackoff);
    return;
  }
  slot.pid = pid;
  slot.started = Clock::now();
}

ServeOptions Master::worker_options(const WorkerSlot& slot, int control) const {
  ServeOptions options;
  options.role = "worker " + std::to_string(slot.index);
  if (slot.generation > 1) options.role += " of generation " + std::to_string(slot.generation);
  options.control_fd = control;
  options.stats = stats_.get();
  options.stats_slot = slot.stats_slot;
  return options;
}

// Model threads. The thread gets descriptors of its own for the shared listening sockets (its
// loop closes them when it drains), a copy of the endpoints discovered so far, and a share of
// the configuration, which a reload replaces while older threads still serve it.
void Master::start_thread(WorkerSlot& slot, int control) {
  ServeOptions options = worker_options(slot, control);
  options.thread = true;
  for (int fd : fds_in_listener_order())
    options.sockets.listen_fds.push_back(fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0));
  auto discovered = std::make_shared<discovery::Snapshot>(zookeeper_ ? zookeeper_->snapshot() : discovery::Snapshot{});
  auto exit = std::make_shared<ThreadExit>();
  std::shared_ptr<const conf::Config> config = config_;
  int notify = thread_exits_[1];
  try {
    slot.thread = std::thread([options, config, discovered, exit, notify]() mutable {
      options.discovered = discovered.get();
      exit->code = serve(*config, options);
      exit->done.store(true);
      char byte = 1;
      ssize_t ignored = write(notify, &byte, 1);  // a full pipe already says "look"
      (void)ignored;
    });
  } catch (const std::system_error& error) {
    LOG_ERROR("master: cannot start a worker thread: %s; retrying", error.what());
    for (int fd : options.sockets.listen_fds)
      if (fd >= 0) close(fd);
    close(control);
    close_control(slot);
    schedule_respawn(slot, kMaxBackoff);
    return;
  }
  slot.exit = std::move(exit);
  slot.started = Clock::now();
}

// Model threads: joins each worker thread that has returned and handles it like a reaped child.
void Master::join_threads() {
  char bytes[64];
  while (read(thread_exits_[0], bytes, sizeof bytes) > 0) {
  }
  for (bool found = true; found;) {
    found = false;
    for (auto slot = slots_.begin(); slot != slots_.end(); ++slot) {
      if (slot->exit == nullptr || !slot->exit->done.load()) continue;
      slot->thread.join();
      int code = slot->exit->code;
      slot->exit.reset();
      on_worker_exit(slot, (code & 0xff) << 8);  // as waitpid reports an exit status
      found = true;                              // the slot may be gone: start over
      break;
    }
  }
}

// In the forked child. `passed_fds` is its end of the fdpass channel, or -1; `control` its end
// of its control channel.
void Master::run_worker(const WorkerSlot& slot, int passed_fds, int control) {
  ServeOptions options = worker_options(slot, control);
  become_child(options);
  if (config_->process.model == conf::ProcessModel::kReuseport) {
    options.sockets.reuse_port = true;
  } else if (passed_fds >= 0) {
    options.sockets.passed_fds = passed_fds;
    fcntl(passed_fds, F_SETFD, 0);
  } else {
    options.sockets.listen_fds = fds_in_listener_order();
  }
  exit(serve(*config_, options));
}

// In a forked worker or connection child: leaves the master's signals and descriptors behind
// and fills in what every child gets (the master pipe, the endpoints discovered so far).
void Master::become_child(ServeOptions& options) {
  sigprocmask(SIG_SETMASK, &original_mask_, nullptr);
  // Its own process group: a terminal's Ctrl-C reaches the master alone, which then drains
  // the workers; without this each worker would see the SIGINT and the master's SIGTERM as two
  // stop requests and exit at once.
  setpgid(0, 0);
  close(master_pipe_[1]);
  // The master's descriptors a child must not hold: the master's ends of every channel (one
  // held here would keep a dead worker's channel open) and the signalfd.
  for (const auto& other : slots_) {
    if (other.channel >= 0) close(other.channel);
    if (other.control >= 0) close(other.control);
  }
  if (signal_fd_ >= 0) close(signal_fd_);
  if (admin_) admin_->close_descriptors();
  static const discovery::Snapshot kNothingDiscovered;
  options.discovered = &kNothingDiscovered;
  if (zookeeper_) {
    if (zookeeper_->socket_fd() >= 0) close(zookeeper_->socket_fd());
    options.discovered = &zookeeper_->snapshot();
  }
  options.master_fd = master_pipe_[0];
  fcntl(options.master_fd, F_SETFD, 0);
}

void Master::schedule_respawn(WorkerSlot& slot, milliseconds delay) {
  slot.respawn_pending = true;
  slot.respawn_at = Clock::now() + delay;
}

void Master::on_worker_exit(std::vector<WorkerSlot>::iterator slot, int status) {
  Stats& stats = stats_->slot(slot->stats_slot);
  // A worker thread's id is the one its gateway wrote into its stats slot.
  std::string who = slot->pid > 0 ? "pid " + std::to_string(slot->pid) : "thread " + std::to_string(stats.pid.get());
  slot->pid = 0;
  if (slot->channel >= 0) close(slot->channel);
  slot->channel = -1;
  close_control(*slot);
  stats.connections_active.set(0);
  if (stopping_ || slot->retiring) {
    LOG_INFO("master: worker %d of generation %d (%s) %s", slot->index, slot->generation, who.c_str(),
             describe_status(status).c_str());
    stats.pid.set(0);
    if (slot->retiring) slots_.erase(slot);  // its stats slot is free again
    return;
  }
  auto lived = std::chrono::duration_cast<milliseconds>(Clock::now() - slot->started);
  slot->quick_deaths = lived < kStartupGrace ? slot->quick_deaths + 1 : 0;
  if (slot->quick_deaths >= kCrashLoopLimit) {
    slot->given_up = true;
    stats.pid.set(0);
    LOG_ERROR(
        "master: worker %d %s %d times in a row within %lld ms of starting; not respawning it "
        "(see the worker's own log lines above for why)",
        slot->index, describe_status(status).c_str(), slot->quick_deaths,
        static_cast<long long>(kStartupGrace.count()));
    return;
  }
  // One early death may be bad luck (a kill, an OOM): respawn at once. A second in a row starts
  // the backoff, so a worker that cannot start does not spin the machine.
  milliseconds delay{0};
  if (slot->quick_deaths > 1) delay = std::min(kMaxBackoff, kFirstBackoff * (1 << (slot->quick_deaths - 2)));
  ++stats_->master().respawns;
  LOG_WARN("master: worker %d (%s) %s after %lld ms; respawning in %lld ms", slot->index, who.c_str(),
           describe_status(status).c_str(), static_cast<long long>(lived.count()),
           static_cast<long long>(delay.count()));
  schedule_respawn(*slot, delay);
}

void Master::reap() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      auto slot = std::find_if(slots_.begin(), slots_.end(), [pid](const WorkerSlot& s) { return s.pid == pid; });
      if (slot != slots_.end()) on_worker_exit(slot, status);
      auto child = children_.find(pid);
      if (child != children_.end()) on_child_exit(child, status);
      continue;
    }
    if (pid < 0 && errno == EINTR) continue;
    return;  // 0: none left to reap now; ECHILD: no children at all
  }
}

// A thread cannot be signalled: SIGTERM and SIGUSR1 become commands on its control channel,
// and SIGKILL ends the whole process, the only way to stop a thread that does not return.
void Master::signal_worker(WorkerSlot& slot, int signum) {
  if (slot.pid > 0) {
    kill(slot.pid, signum);
    return;
  }
  if (slot.exit == nullptr) return;
  if (signum == SIGKILL) {
    LOG_ERROR("master: killing the process, worker threads and all");
    _exit(1);
  }
  if (slot.control < 0) return;
  slot.control_out += control_frame(signum == SIGUSR1 ? ControlKind::kReopenLogs : ControlKind::kDrain);
  write_control(slot);
}

// Retiring workers are draining already: a second SIGTERM would make them exit at once.
void Master::signal_workers(int signum, bool include_retiring) {
  for (auto& slot : slots_)
    if (include_retiring || !slot.retiring) signal_worker(slot, signum);
  for (const auto& [pid, unused] : children_) kill(pid, signum);
}

bool Master::any_worker_alive() const {
  return !children_.empty() ||
         std::any_of(slots_.begin(), slots_.end(), [](const WorkerSlot& s) { return s.running(); });
}

bool Master::every_slot_given_up() const {
  return std::all_of(slots_.begin(), slots_.end(), [](const WorkerSlot& s) { return s.given_up || s.retiring; });
}

}  // namespace rpcgate
