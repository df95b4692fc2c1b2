// The master keeps no libuv loop: it polls a signalfd (and, for fdpass, the listening sockets),
// so a forked worker starts with no libuv state inherited from its parent. In model threads the
// workers are threads of the master's process, each with a loop of its own, and the master
// supervises them the same way: commands go over their control channels instead of signals, and
// a byte on a pipe tells it that one has returned.
#include "process/master.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "admin/admin_server.h"
#include "discovery/zookeeper_client.h"
#include "process/config_check.h"
#include "admin/config_json.h"
#include "process/control_channel.h"
#include "process/pid_file.h"
#include "core/listen_socket.h"
#include "core/log.h"
#include "admin/metrics.h"
#include "gateway/fd_passing.h"
#include "gateway/stats_json.h"
#include "process/serve.h"

namespace rpcgate {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A worker that dies sooner than this after its start counts as failing to start.
constexpr milliseconds kStartupGrace{1000};
// This many start-up deaths in a row and the slot is given up: respawning would only spin.
constexpr int kCrashLoopLimit = 5;
constexpr milliseconds kFirstBackoff{100};
constexpr milliseconds kMaxBackoff{10000};
// After drain_timeout the workers exit by themselves; this much longer and they are killed.
constexpr milliseconds kStopGrace{2000};
// Stats slots per configured worker: room for the workers of a reload to start while those of
// one or two earlier configurations still drain.
constexpr size_t kStatsSlotsPerWorker = 4;
// At start-up the workers wait this long at most for ZooKeeper's first answer, so they start with
// the endpoints; without an answer they start with none and get them when it comes.
constexpr milliseconds kInitialDiscoveryWait{3000};
// A drain first removes the gateway's registrations; it waits this long at most for ZooKeeper to
// confirm before the workers stop accepting.
constexpr milliseconds kDeregisterWait{2000};

// What a worker thread leaves behind for the master, which joins it once `done`.
struct ThreadExit {
  std::atomic<bool> done{false};
  int code = 0;
};

struct WorkerSlot {
  int index = 0;          // within its generation, for logs
  int generation = 0;     // bumped by every reload
  size_t stats_slot = 0;  // its slot in the shared stats table
  bool retiring = false;  // of an older configuration: draining, never respawned
  pid_t pid = 0;
  Clock::time_point started;
  Clock::time_point respawn_at;
  int quick_deaths = 0;
  bool respawn_pending = false;
  bool given_up = false;
  int channel = -1;            // fdpass: the master's end of the socket it passes connections over
  uint64_t passed = 0;         // fdpass: connections passed since this worker started
  uint64_t accepted_base = 0;  // fdpass: its slot's connections_accepted when it started
  int control = -1;            // the master's end of its control channel (control_channel.h)
  std::string control_out;     // the rest of the frame being written to it
  bool control_dirty = false;  // owes it the current snapshot
  bool ready = false;          // it said it serves
  std::thread thread;              // model threads: the worker (pid stays 0)
  std::shared_ptr<ThreadExit> exit;  // model threads: set while the thread runs

  bool running() const { return pid > 0 || exit != nullptr; }
};

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by SIG") + sigabbrev_np(WTERMSIG(status));
  return "stopped";
}

class Master final : public discovery::ZooKeeperClient::Events {
 public:
  Master(std::string path, conf::Config config)
      : path_(std::move(path)), config_(std::make_shared<conf::Config>(std::move(config))) {}

  int run() {
    if (!bind_listeners(*config_, listen_fds_)) return 1;
    if (pipe2(master_pipe_, O_CLOEXEC) != 0 || pipe2(thread_exits_, O_CLOEXEC | O_NONBLOCK) != 0) {
      LOG_ERROR("master: pipe: %s", strerror(errno));
      return 1;
    }
    sigemptyset(&watched_);
    for (int signum : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&watched_, signum);
    sigprocmask(SIG_BLOCK, &watched_, &original_mask_);
    pid_file_.write(config_->process.pid_file);

    unsigned count = forking() ? 0 : worker_count(*config_);
    stats_ = StatsTable::create(forking() ? config_->process.max_children : count * kStatsSlotsPerWorker);
    stats_->master().pid.set(static_cast<uint64_t>(getpid()));
    stats_->master().started_unix_ms.set(static_cast<uint64_t>(
        std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count()));
    if (!configure_admin()) return 1;
    configure_zookeeper();
    wait_for_discovery();
    spawn_generation(count);
    if (forking())
      LOG_INFO("master: rpcgate " RPCGATE_VERSION " (model fork) serving each connection in a child of its own, "
               "at most %zu at once, pid %d", config_->process.max_children, static_cast<int>(getpid()));
    else
      LOG_INFO("master: rpcgate " RPCGATE_VERSION " (model %s) serving with %u workers, pid %d",
               conf::to_string(config_->process.model).c_str(), count, static_cast<int>(getpid()));
    int code = supervise();
    LOG_INFO("master: served %llu requests on %llu connections over its lifetime",
             static_cast<unsigned long long>(stats_->total([](const Stats& s) -> const Counter& { return s.requests; })),
             static_cast<unsigned long long>(
                 stats_->total([](const Stats& s) -> const Counter& { return s.connections_accepted; })));
    zookeeper_.reset();  // closes the session: ZooKeeper drops this gateway's nodes at once
    pid_file_.remove();
    return code;
  }

 private:
  static unsigned worker_count(const conf::Config& config) {
    if (config.process.workers > 0) return config.process.workers;
    return static_cast<unsigned>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  }

  // prefork: the sockets the workers inherit, by address; one still open under the same address
  // is kept, so a reload never closes a socket clients are connecting to. reuseport: each worker
  // binds its own; the master only checks that it can, so a taken port is one clear error
  // instead of a crash loop, and closes its probe at once, since the kernel would hand it
  // connections nobody accepts.
  bool bind_listeners(const conf::Config& config, std::map<std::string, int>& fds) {
    bool reuse_port = config.process.model == conf::ProcessModel::kReuseport;
    std::map<std::string, int> opened;
    for (const auto& listener : config.listeners) {
      std::string address = listener.address.to_string();
      if (!reuse_port && fds.count(address) > 0) continue;
      std::string error;
      int fd = open_listen_socket(listener.address.host, listener.address.port, reuse_port, error);
      if (fd < 0) {
        LOG_ERROR("%s: listener %s: cannot listen on %s: %s", listener.origin.describe().c_str(),
                  listener.name.c_str(), address.c_str(), error.c_str());
        for (const auto& [unused, opened_fd] : opened) close(opened_fd);
        return false;
      }
      if (reuse_port)
        close(fd);
      else
        opened[address] = fd;
      LOG_INFO("listener %s: %s on %s", listener.name.c_str(), listener.codec.c_str(), address.c_str());
    }
    fds.insert(opened.begin(), opened.end());
    return true;
  }

  std::vector<int> fds_in_listener_order() const {
    std::vector<int> ordered;
    for (const auto& listener : config_->listeners) {
      auto found = listen_fds_.find(listener.address.to_string());
      ordered.push_back(found == listen_fds_.end() ? -1 : found->second);
    }
    return ordered;
  }

  // A stats slot no live worker or child holds (reload() and max_children make sure there is one).
  size_t free_stats_slot() const {
    std::vector<bool> taken(stats_->size());
    for (const auto& slot : slots_) taken[slot.stats_slot] = true;
    for (const auto& [unused, stats_slot] : children_) taken[stats_slot] = true;
    auto free = std::find(taken.begin(), taken.end(), false);
    return free == taken.end() ? stats_->size() - 1 : static_cast<size_t>(free - taken.begin());
  }

  void spawn_generation(unsigned count) {
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
  static bool open_pair(int& master_end, int& worker_end) {
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

  void spawn(WorkerSlot& slot) {
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

  bool threads() const { return config_->process.model == conf::ProcessModel::kThreads; }
  bool forking() const { return config_->process.model == conf::ProcessModel::kFork; }
  bool accepting_here() const { return config_->process.model == conf::ProcessModel::kFdpass || forking(); }

  ServeOptions worker_options(const WorkerSlot& slot, int control) const {
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
  void start_thread(WorkerSlot& slot, int control) {
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
  void join_threads() {
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
        found = true;  // the slot may be gone: start over
        break;
      }
    }
  }

  // In the forked child. `passed_fds` is its end of the fdpass channel, or -1; `control` its end
  // of its control channel.
  [[noreturn]] void run_worker(const WorkerSlot& slot, int passed_fds, int control) {
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
  void become_child(ServeOptions& options) {
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

  // Model fork: the master accepted `fd` on listener `listener`; a child serves it and exits.
  void accept_and_fork(int listen_fd, size_t listener) {
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
  [[noreturn]] void run_child(int fd, size_t listener, size_t stats_slot) {
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

  void on_child_exit(std::map<pid_t, size_t>::iterator child, int status) {
    Stats& stats = stats_->slot(child->second);
    stats.pid.set(0);
    stats.connections_active.set(0);
    // A clean exit is the normal end of every connection; anything else is worth a line.
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      LOG_WARN("master: connection child (pid %d) %s", static_cast<int>(child->first), describe_status(status).c_str());
    children_.erase(child);
  }

  void schedule_respawn(WorkerSlot& slot, milliseconds delay) {
    slot.respawn_pending = true;
    slot.respawn_at = Clock::now() + delay;
  }

  void on_worker_exit(std::vector<WorkerSlot>::iterator slot, int status) {
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
      LOG_ERROR("master: worker %d %s %d times in a row within %lld ms of starting; not respawning it "
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

  void reap() {
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
  void signal_worker(WorkerSlot& slot, int signum) {
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
  void signal_workers(int signum, bool include_retiring = true) {
    for (auto& slot : slots_)
      if (include_retiring || !slot.retiring) signal_worker(slot, signum);
    for (const auto& [pid, unused] : children_) kill(pid, signum);
  }

  bool any_worker_alive() const {
    return !children_.empty() || std::any_of(slots_.begin(), slots_.end(), [](const WorkerSlot& s) { return s.running(); });
  }

  bool every_slot_given_up() const {
    return std::all_of(slots_.begin(), slots_.end(), [](const WorkerSlot& s) { return s.given_up || s.retiring; });
  }

  void begin_stop(int signum) {
    if (stopping_) {
      LOG_WARN("master: %s again: killing the workers and exiting at once", strsignal(signum));
      signal_workers(SIGKILL);
      exit_code_ = 1;
      force_exit_ = true;
      return;
    }
    stopping_ = true;
    stop_signal_ = signum;
    stats_->master().draining.set(1);
    // Clients choose this gateway from ZooKeeper: it leaves there first, and stops accepting once
    // ZooKeeper has confirmed (or kDeregisterWait has passed).
    if (zookeeper_ && zookeeper_->registered_count() > 0 && zookeeper_->state_code() == MasterStats::kConnected) {
      LOG_INFO("master: %s: removing this gateway from ZooKeeper before draining", strsignal(signum));
      zookeeper_->set_registrations({});
      deregister_deadline_ = Clock::now() + kDeregisterWait;
      stop_deadline_ = Clock::time_point::max();
      return;
    }
    drain_workers();
  }

  void drain_workers() {
    deregister_deadline_ = Clock::time_point::max();
    if (zookeeper_) zookeeper_->set_registrations({});
    stop_deadline_ = Clock::now() + config_->process.drain_timeout + kStopGrace;
    LOG_INFO("master: %s: draining the workers (send it again to exit at once)", strsignal(stop_signal_));
    // The listening sockets stay open in the workers until each drains; the master's copies go
    // now so that new connections are refused once every worker has closed its own.
    for (const auto& [unused, fd] : listen_fds_) close(fd);
    listen_fds_.clear();
    signal_workers(SIGTERM, false);
  }

  // Milliseconds to the next respawn or stop deadline; -1 means none.
  int next_wait_ms() const {
    auto now = Clock::now();
    auto wake = Clock::time_point::max();
    for (const auto& slot : slots_)
      if (slot.respawn_pending && !stopping_) wake = std::min(wake, slot.respawn_at);
    if (stopping_) wake = std::min({wake, stop_deadline_, deregister_deadline_});
    if (wake == Clock::time_point::max()) return -1;
    auto wait = std::chrono::duration_cast<milliseconds>(wake - now).count();
    return static_cast<int>(std::clamp<long long>(wait, 0, 60'000));
  }

  void on_signal(int signum) {
    switch (signum) {
      case SIGCHLD: reap(); break;
      case SIGTERM:
      case SIGINT: begin_stop(signum); break;
      case SIGHUP: reload(); break;
      case SIGUSR1:
        if (!set_log_file(config_->logging.file)) LOG_ERROR("master: SIGUSR1: cannot reopen the log file");
        signal_workers(SIGUSR1);
        break;
      default: break;
    }
  }

  int supervise() {
    signal_fd_ = signalfd(-1, &watched_, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd_ < 0) {
      LOG_ERROR("master: signalfd: %s", strerror(errno));
      return 1;
    }
    std::vector<pollfd> polled;
    std::vector<size_t> listener_of;  // listener index of polled[i + 1]
    while (true) {
      if (force_exit_) return exit_code_;
      if (stopping_ && !any_worker_alive()) {
        LOG_INFO("master: every worker has exited; exiting");
        return exit_code_;
      }
      if (!stopping_ && !forking() && every_slot_given_up()) {
        LOG_ERROR("master: no worker could be kept running; exiting");
        return 1;
      }
      polled.assign(1, pollfd{signal_fd_, POLLIN, 0});
      polled.push_back(pollfd{threads() ? thread_exits_[0] : -1, POLLIN, 0});
      int wait_ms = next_wait_ms();
      size_t zookeeper_at = add_zookeeper_interest(polled, wait_ms);
      size_t admin_at = polled.size();
      size_t admin_count = admin_ ? admin_->add_poll_fds(polled, wait_ms) : 0;
      size_t controls_at = polled.size();
      for (const auto& slot : slots_) {
        short events = POLLIN;
        if (!slot.control_out.empty()) events |= POLLOUT;
        polled.push_back(pollfd{slot.control, events, 0});  // -1 (none) is skipped by poll
      }
      size_t listeners_at = polled.size();
      listener_of.clear();
      // fork: at max_children the master stops accepting; new connections wait in the backlog.
      if (accepting_here() && !stopping_ && (!forking() || children_.size() < config_->process.max_children)) {
        for (size_t i = 0; i < config_->listeners.size(); ++i) {
          auto found = listen_fds_.find(config_->listeners[i].address.to_string());
          if (found == listen_fds_.end()) continue;
          polled.push_back(pollfd{found->second, POLLIN, 0});
          listener_of.push_back(i);
        }
      }
      if (poll(polled.data(), polled.size(), wait_ms) < 0 && errno != EINTR) {
        LOG_ERROR("master: poll: %s", strerror(errno));
        return 1;
      }
      if (polled[1].revents & POLLIN) join_threads();
      if (zookeeper_at > 0) zookeeper_->process(polled[zookeeper_at].revents);
      // Before the listeners' entries are read: a request may drain (closing them) or reload.
      if (admin_) admin_->process(polled.data() + admin_at, admin_count);
      // Control channels first: a signal handled below may close or erase their slots.
      for (size_t i = controls_at; i < listeners_at; ++i)
        if (polled[i].revents != 0) service_control(polled[i].fd, polled[i].revents);
      if (polled[0].revents & POLLIN) {
        signalfd_siginfo info{};
        while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) on_signal(static_cast<int>(info.ssi_signo));
      }
      for (size_t i = listeners_at; i < polled.size() && !stopping_ && !listen_fds_.empty(); ++i)
        if (polled[i].revents & POLLIN) {
          if (forking())
            accept_and_fork(polled[i].fd, listener_of[i - listeners_at]);
          else
            accept_and_pass(polled[i].fd, listener_of[i - listeners_at]);
        }
      run_deadlines();
      after_zookeeper_events();
    }
  }

  // fdpass: the worker with the fewest connections, counting those passed but not yet taken.
  WorkerSlot* least_loaded(const std::vector<WorkerSlot*>& excluded) {
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

  void accept_and_pass(int listen_fd, size_t listener) {
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

  void run_deadlines() {
    auto now = Clock::now();
    if (stopping_ && deregister_deadline_ != Clock::time_point::max()) {
      if (now < deregister_deadline_ && !zookeeper_->registrations_settled()) return;
      if (!zookeeper_->registrations_settled())
        LOG_WARN("master: ZooKeeper did not confirm the removal within %lld ms; draining anyway",
                 static_cast<long long>(kDeregisterWait.count()));
      drain_workers();
      return;
    }
    if (stopping_) {
      if (now >= stop_deadline_ && any_worker_alive()) {
        LOG_WARN("master: workers still running %lld ms past drain_timeout; killing them",
                 static_cast<long long>(kStopGrace.count()));
        signal_workers(SIGKILL);
        exit_code_ = 1;
        stop_deadline_ = Clock::time_point::max();
      }
      return;
    }
    for (auto& slot : slots_)
      if (slot.respawn_pending && now >= slot.respawn_at) spawn(slot);
  }

  // SIGHUP: a valid new configuration starts a new generation of workers on it, which accept on
  // the same listening sockets (new addresses are bound, dropped ones closed), and only then are
  // the old workers told to drain, so no connection is refused. An invalid one changes nothing.
  // What a reload did, for POST /reload: applied, or why not (also logged).
  struct ReloadOutcome {
    bool applied = false;
    std::string message;
  };

  ReloadOutcome reload() {
    if (stopping_) return {false, "draining: no reload now"};
    LOG_INFO("master: SIGHUP: reloading %s", path_.c_str());
    auto fresh = std::make_shared<conf::Config>();
    std::string error;
    if (!load_checked_config(path_, *fresh, error)) {
      LOG_ERROR("master: the new configuration is invalid; still serving the previous one:\n%s", error.c_str());
      return refuse(error);
    }
    if (fresh->process.model != config_->process.model) {
      std::string why = "process.model cannot change on reload (" + conf::to_string(config_->process.model) + " -> " +
                        conf::to_string(fresh->process.model) + "); restart rpcgate for that";
      LOG_ERROR("master: %s; still serving the previous configuration", why.c_str());
      return refuse(why);
    }
    if (fresh->process.model == conf::ProcessModel::kFork && fresh->process.max_children > stats_->size()) {
      std::string why = "process.max_children cannot grow past its value at start (" + std::to_string(stats_->size()) +
                        "), which sized the shared stats; restart rpcgate for that";
      LOG_ERROR("master: %s; still serving the previous configuration", why.c_str());
      return refuse(why);
    }
    unsigned count = fresh->process.model == conf::ProcessModel::kFork ? 0 : worker_count(*fresh);
    size_t live = slots_.size();
    if (live + count > stats_->size()) {
      std::string why = "too many workers still draining (" + std::to_string(live) + ") to start " +
                        std::to_string(count) + " more; reload again once they have exited";
      LOG_ERROR("master: %s; still serving the previous configuration", why.c_str());
      return refuse(why);
    }
    std::map<std::string, int> fds = listen_fds_;
    if (!bind_listeners(*fresh, fds)) {
      LOG_ERROR("master: still serving the previous configuration");
      return refuse("cannot listen on an address of the new configuration (see the log)");
    }
    // Sockets of addresses the new configuration dropped: the old workers keep their own copies
    // until they have drained.
    for (auto it = fds.begin(); it != fds.end();) {
      const std::string& address = it->first;
      bool kept = std::any_of(fresh->listeners.begin(), fresh->listeners.end(),
                              [&](const conf::ListenerConfig& l) { return l.address.to_string() == address; });
      if (kept) {
        ++it;
        continue;
      }
      LOG_INFO("master: closing the listening socket on %s", address.c_str());
      close(it->second);
      it = fds.erase(it);
    }
    listen_fds_ = std::move(fds);
    for (auto& slot : slots_) {
      slot.retiring = true;
      slot.respawn_pending = false;
    }
    config_ = std::move(fresh);
    apply_logging();
    configure_admin();
    configure_zookeeper();
    wait_for_discovery();
    spawn_generation(count);
    for (auto& slot : slots_)
      if (slot.generation < generation_) signal_worker(slot, SIGTERM);
    LOG_INFO("master: configuration reloaded: generation %d of %u workers started, %zu older workers draining",
             generation_, count, live);
    ++stats_->master().reloads;
    if (forking()) return {true, "new connections are served with the new configuration"};
    return {true, "generation " + std::to_string(generation_) + " of " + std::to_string(count) +
                      " workers started; " + std::to_string(live) + " older workers draining"};
  }

  ReloadOutcome refuse(std::string why) {
    ++stats_->master().reload_failures;
    return {false, std::move(why)};
  }

  // ---- the admin port ----

  // Opens, moves or closes the admin port for the current configuration. At start-up a port it
  // cannot bind is fatal; on a reload the old port stays.
  bool configure_admin() {
    const auto& address = config_->admin.address;
    if (!address) {
      if (admin_) LOG_INFO("master: admin port closed");
      admin_.reset();
      admin_address_.clear();
      return true;
    }
    if (admin_ && admin_address_ == address->to_string()) return true;
    if (!admin_) admin_ = std::make_unique<admin::AdminServer>([this](const admin::HttpRequest& r) { return serve_admin(r); });
    std::string error;
    if (!admin_->listen(*address, error)) {
      LOG_ERROR("master: admin port: %s", error.c_str());
      return !admin_address_.empty();
    }
    admin_address_ = address->to_string();
    LOG_INFO("master: admin port on http://%s/ (metrics, healthz, readyz, stats, config, drain, reload)",
             admin_address_.c_str());
    return true;
  }

  // Why the gateway should not get new traffic now, or "" when it should.
  std::string not_ready_reason() const {
    if (stopping_) return "draining";
    if (forking()) return "";  // the master itself accepts
    size_t current = 0;
    for (const auto& slot : slots_) {
      if (slot.retiring) continue;
      if (!slot.running() || !slot.ready) return "worker " + std::to_string(slot.index) + " is not serving";
      ++current;
    }
    return current == 0 ? "no worker" : "";
  }

  admin::HttpResponse serve_admin(const admin::HttpRequest& request) {
    auto answer = [](int status, std::string body, std::string type = "text/plain; charset=utf-8") {
      admin::HttpResponse response;
      response.status = status;
      response.body = std::move(body);
      response.content_type = std::move(type);
      return response;
    };
    auto json = [&](int status, const Json& value) { return answer(status, value.dump(2) + "\n", "application/json"); };
    bool read = request.method == "GET" || request.method == "HEAD";
    bool post = request.method == "POST";
    const std::string& path = request.path;
    bool known_get = path == "/" || path == "/metrics" || path == "/healthz" || path == "/readyz" || path == "/stats" ||
                     path == "/clusters" || path == "/config";
    bool known_post = path == "/drain" || path == "/reload";
    if (!known_get && !known_post) return answer(404, "no such page: " + path + " (GET / lists them)\n");
    if (known_get && !read) return answer(405, path + " answers GET\n");
    if (known_post && !post) return answer(405, path + " answers POST\n");
    if (path == "/healthz") return answer(200, "ok\n");
    if (path == "/readyz") {
      std::string why = not_ready_reason();
      return why.empty() ? answer(200, "ready\n") : answer(503, "not ready: " + why + "\n");
    }
    if (path == "/metrics") return answer(200, render_metrics(*config_, *stats_), "text/plain; version=0.0.4; charset=utf-8");
    if (path == "/stats") return json(200, stats_json(*config_, *stats_));
    if (path == "/clusters") return json(200, clusters_json(*stats_));
    if (path == "/config") return json(200, config_json(*config_));
    if (path == "/drain") {
      LOG_INFO("master: POST /drain");
      begin_stop(SIGTERM);
      return answer(202, "draining\n");
    }
    if (path == "/reload") {
      LOG_INFO("master: POST /reload");
      ReloadOutcome outcome = reload();
      if (outcome.applied) return json(200, {{"reloaded", true}, {"message", outcome.message}});
      return json(400, {{"reloaded", false}, {"error", outcome.message}});
    }
    return answer(200,
                  "rpcgate " RPCGATE_VERSION " admin\n"
                  "GET  /metrics   Prometheus text\n"
                  "GET  /healthz   200 while alive\n"
                  "GET  /readyz    200 when every worker serves and no drain has begun, else 503\n"
                  "GET  /stats     the figures as JSON\n"
                  "GET  /clusters  each upstream endpoint's health, pending calls and connections, per worker\n"
                  "GET  /config    the effective configuration, secrets redacted\n"
                  "POST /drain     drain, like SIGTERM\n"
                  "POST /reload    reload, like SIGHUP\n");
  }

  // ---- ZooKeeper and the control channels ----

  // Opens, keeps or closes the session for the current configuration, and sets what it watches
  // and (once registering) publishes. The session survives a reload unless its settings change.
  void configure_zookeeper() {
    const conf::ZookeeperConfig& settings = config_->zookeeper;
    if (settings.servers.empty()) {
      if (zookeeper_) LOG_INFO("master: zookeeper is no longer configured; closing the session");
      zookeeper_.reset();
      return;
    }
    if (zookeeper_ && !zookeeper_->same_session_settings(settings)) {
      LOG_INFO("master: the zookeeper settings changed; opening a new session");
      zookeeper_.reset();
    }
    if (!zookeeper_) zookeeper_ = std::make_unique<discovery::ZooKeeperClient>(settings, *this);
    std::vector<std::string> paths;
    for (const auto& cluster : config_->clusters)
      if (!cluster.zookeeper_path.empty() && std::find(paths.begin(), paths.end(), cluster.zookeeper_path) == paths.end())
        paths.push_back(cluster.zookeeper_path);
    zookeeper_->set_watched_paths(paths);
    if (registering_) zookeeper_->set_registrations(wanted_registrations());
  }

  std::vector<discovery::ZooKeeperClient::Registration> wanted_registrations() const {
    std::vector<discovery::ZooKeeperClient::Registration> wanted;
    for (const auto& registration : config_->zookeeper.registrations) {
      for (const auto& listener : config_->listeners) {
        if (listener.name != registration.listener) continue;
        const std::string& host = registration.advertise.empty() ? listener.address.host : registration.advertise;
        wanted.push_back({registration.path, discovery::node_data(host, listener.address.port)});
      }
    }
    return wanted;
  }

  // Blocks for the first answer about every watched path, at most kInitialDiscoveryWait.
  void wait_for_discovery() {
    if (!zookeeper_) return;
    auto deadline = Clock::now() + kInitialDiscoveryWait;
    while (!zookeeper_->all_synced() && Clock::now() < deadline) {
      int wait_ms = static_cast<int>(std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count());
      pollfd fd{};
      zookeeper_->poll_interest(fd, wait_ms);
      if (poll(&fd, 1, std::max(wait_ms, 0)) < 0 && errno != EINTR) break;
      zookeeper_->process(fd.revents);
    }
    if (!zookeeper_->all_synced())
      LOG_WARN("master: no answer from ZooKeeper within %lld ms; the workers start without the endpoints "
               "it has not given yet, and get them as soon as it answers",
               static_cast<long long>(kInitialDiscoveryWait.count()));
  }

  // The index of the ZooKeeper socket's entry in `polled`, or 0 for none; lowers `wait_ms` to
  // the library's next timer.
  size_t add_zookeeper_interest(std::vector<pollfd>& polled, int& wait_ms) {
    if (!zookeeper_) return 0;
    pollfd fd{};
    zookeeper_->poll_interest(fd, wait_ms);
    polled.push_back(fd);
    return polled.size() - 1;
  }

  void on_nodes_changed(const std::string&) override {
    for (auto& slot : slots_)
      if (slot.control >= 0) slot.control_dirty = true;
    ++stats_->master().zookeeper_updates;
  }

  void close_control(WorkerSlot& slot) {
    if (slot.control >= 0) close(slot.control);
    slot.control = -1;
    slot.control_out.clear();
    slot.control_dirty = false;
  }

  void service_control(int fd, short revents) {
    auto slot = std::find_if(slots_.begin(), slots_.end(), [fd](const WorkerSlot& s) { return s.control == fd; });
    if (slot == slots_.end()) return;
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
      char bytes[64];
      ssize_t got = read(fd, bytes, sizeof bytes);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        close_control(*slot);  // the worker is gone; SIGCHLD tells the rest
        return;
      }
      if (got > 0 && std::memchr(bytes, kControlReady, static_cast<size_t>(got)) != nullptr) slot->ready = true;
    }
    if (revents & POLLOUT) write_control(*slot);
  }

  void write_control(WorkerSlot& slot) {
    while (!slot.control_out.empty()) {
      ssize_t wrote = write(slot.control, slot.control_out.data(), slot.control_out.size());
      if (wrote < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) close_control(slot);
        return;
      }
      slot.control_out.erase(0, static_cast<size_t>(wrote));
    }
  }

  // Each worker owed the snapshot gets it whole, once the frame before it has gone: a slow
  // worker holds one frame at most, however often the endpoints change.
  void send_snapshots() {
    std::string frame;
    for (auto& slot : slots_) {
      if (!slot.control_dirty || !slot.control_out.empty() || slot.control < 0) continue;
      if (frame.empty()) frame = control_frame(ControlKind::kSnapshot, discovery::encode_snapshot(zookeeper_->snapshot()));
      slot.control_out = frame;
      slot.control_dirty = false;
      write_control(slot);
    }
  }

  // Registration starts once every worker of the current generation serves.
  bool workers_ready() const {
    if (forking()) return true;  // the master itself accepts
    bool any = false;
    for (const auto& slot : slots_) {
      if (slot.retiring || slot.given_up) continue;
      if (!slot.ready) return false;
      any = true;
    }
    return any;
  }

  void after_zookeeper_events() {
    if (!zookeeper_) return;
    send_snapshots();
    if (!registering_ && !stopping_ && !config_->zookeeper.registrations.empty() && workers_ready()) {
      registering_ = true;
      zookeeper_->set_registrations(wanted_registrations());
    }
    MasterStats& stats = stats_->master();
    stats.zookeeper_state.set(zookeeper_->state_code());
    stats.zookeeper_expiries.set(zookeeper_->session_expiries());
    stats.zookeeper_registered.set(zookeeper_->registered_count());
  }

  void apply_logging() {
    LogLevel level;
    if (parse_log_level(config_->logging.level, level)) set_log_level(level);
    if (!set_log_file(config_->logging.file)) LOG_ERROR("master: cannot open log file %s", config_->logging.file.c_str());
  }

  std::string path_;
  // The current one; forked workers serve a copy of it, worker threads a share.
  std::shared_ptr<conf::Config> config_;
  std::map<std::string, int> listen_fds_;  // prefork: by address
  PidFile pid_file_;
  int generation_ = 0;
  std::vector<WorkerSlot> slots_;
  std::map<pid_t, size_t> children_;  // model fork: each child's stats slot
  std::unique_ptr<StatsTable> stats_;  // shared with every worker; slot i is worker i's
  int master_pipe_[2] = {-1, -1};
  int thread_exits_[2] = {-1, -1};  // model threads: a worker thread writes a byte as it returns
  sigset_t watched_{};
  sigset_t original_mask_{};
  int signal_fd_ = -1;
  std::unique_ptr<admin::AdminServer> admin_;
  std::string admin_address_;  // where admin_ listens
  std::unique_ptr<discovery::ZooKeeperClient> zookeeper_;
  bool registering_ = false;  // the workers were ready once: the registrations are wanted
  int stop_signal_ = SIGTERM;
  Clock::time_point deregister_deadline_ = Clock::time_point::max();
  bool stopping_ = false;
  bool force_exit_ = false;
  int exit_code_ = 0;
  Clock::time_point stop_deadline_;
};

}  // namespace

int run_master(const std::string& config_path, conf::Config config) {
  return Master(config_path, std::move(config)).run();
}

}  // namespace rpcgate
