// The master keeps no libuv loop: it polls a signalfd (and, for fdpass, the listening sockets),
// so a forked worker starts with no libuv state inherited from its parent. In model threads the
// workers are threads of the master's process, each with a loop of its own, and the master
// supervises them the same way: commands go over their control channels instead of signals, and
// a byte on a pipe tells it that one has returned. This file: start-up, the poll loop, signals and
// the drain; master_internal.h lists the other parts.
#include "process/master.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/listen_socket.h"
#include "core/log.h"
#include "process/master_internal.h"

namespace rpcgate {
namespace {

using std::chrono::milliseconds;

// After drain_timeout the workers exit by themselves; this much longer and they are killed.
constexpr milliseconds kStopGrace{2000};
// Stats slots per configured worker: room for the workers of a reload to start while those of
// one or two earlier configurations still drain.
constexpr size_t kStatsSlotsPerWorker = 4;
// A drain first removes the gateway's registrations; it waits this long at most for ZooKeeper to
// confirm before the workers stop accepting.
constexpr milliseconds kDeregisterWait{2000};

}  // namespace

int Master::run() {
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
    LOG_INFO("master: rpcgate " RPCGATE_VERSION
             " (model fork) serving each connection in a child of its own, "
             "at most %zu at once, pid %d",
             config_->process.max_children, static_cast<int>(getpid()));
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

// prefork: the sockets the workers inherit, by address; one still open under the same address
// is kept, so a reload never closes a socket clients are connecting to. reuseport: each worker
// binds its own; the master only checks that it can, so a taken port is one clear error
// instead of a crash loop, and closes its probe at once, since the kernel would hand it
// connections nobody accepts.
bool Master::bind_listeners(const conf::Config& config, std::map<std::string, int>& fds) {
  bool reuse_port = config.process.model == conf::ProcessModel::kReuseport;
  std::map<std::string, int> opened;
  for (const auto& listener : config.listeners) {
    std::string address = listener.address.to_string();
    if (!reuse_port && fds.count(address) > 0) continue;
    std::string error;
    int fd = open_listen_socket(listener.address.host, listener.address.port, reuse_port, error);
    if (fd < 0) {
      LOG_ERROR("%s: listener %s: cannot listen on %s: %s", listener.origin.describe().c_str(), listener.name.c_str(),
                address.c_str(), error.c_str());
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

std::vector<int> Master::fds_in_listener_order() const {
  std::vector<int> ordered;
  for (const auto& listener : config_->listeners) {
    auto found = listen_fds_.find(listener.address.to_string());
    ordered.push_back(found == listen_fds_.end() ? -1 : found->second);
  }
  return ordered;
}

void Master::on_signal(int signum) {
  switch (signum) {
    case SIGCHLD:
      reap();
      break;
    case SIGTERM:
    case SIGINT:
      begin_stop(signum);
      break;
    case SIGHUP:
      reload();
      break;
    case SIGUSR1: {
      const std::string& file = config_->logging.file;
      if (set_log_file(file))
        LOG_INFO("master: SIGUSR1: log reopened (%s); the workers reopen theirs%s",
                 file.empty() ? "stderr" : file.c_str(), config_->logging.access_log ? " and the access log" : "");
      else
        LOG_ERROR("master: SIGUSR1: cannot reopen the log file %s", file.c_str());
      signal_workers(SIGUSR1);
      break;
    }
    default:
      break;
  }
}

int Master::supervise() {
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
    notify_ready();
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
      while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
        on_signal(static_cast<int>(info.ssi_signo));
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

// Milliseconds to the next respawn or stop deadline; -1 means none.
int Master::next_wait_ms() const {
  auto now = Clock::now();
  auto wake = Clock::time_point::max();
  for (const auto& slot : slots_)
    if (slot.respawn_pending && !stopping_) wake = std::min(wake, slot.respawn_at);
  if (stopping_) wake = std::min({wake, stop_deadline_, deregister_deadline_});
  if (wake == Clock::time_point::max()) return -1;
  auto wait = std::chrono::duration_cast<milliseconds>(wake - now).count();
  return static_cast<int>(std::clamp<long long>(wait, 0, 60'000));
}

void Master::run_deadlines() {
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

void Master::begin_stop(int signum) {
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
  notifier_.stopping();
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

void Master::drain_workers() {
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

void Master::apply_logging() {
  LogLevel level;
  if (parse_log_level(config_->logging.level, level)) set_log_level(level);
  if (!set_log_file(config_->logging.file)) LOG_ERROR("master: cannot open log file %s", config_->logging.file.c_str());
}

// Called as a reload starts (SIGHUP, POST /reload): systemd holds the unit in "reloading" until
// the READY=1 that notify_ready() sends once the reload is over.
void Master::notify_reloading() {
  notifier_.reloading();
  reload_unanswered_ = true;
}

// READY=1 once every worker of the current generation serves: at start, and after a reload
// (a refused one leaves the serving generation as it was, so that is at once). Never after a
// drain began: STOPPING=1 was the last word.
void Master::notify_ready() {
  if (!notifier_.enabled() || stopping_) return;
  if (notified_generation_ == generation_ && !reload_unanswered_) return;
  if (!workers_ready()) return;
  notified_generation_ = generation_;
  reload_unanswered_ = false;
  std::string status = forking() ? "serving each connection in a child process"
                                 : "serving; workers: " + std::to_string(worker_count(*config_));
  if (generation_ > 1) status += " (configuration reloaded " + std::to_string(generation_ - 1) + " times)";
  notifier_.ready(status);
}

int run_master(const std::string& config_path, conf::Config config, SystemdNotifier notifier) {
  return Master(config_path, std::move(config), std::move(notifier)).run();
}

}  // namespace rpcgate
