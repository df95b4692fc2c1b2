// The master, shared by the files that implement it (private to process/; the interface is
// master.h). One class, its parts by role: master.cpp the poll loop, signals and drain;
// worker_supervisor.cpp the worker slots (spawn, reap, respawn backoff); accept_dispatch.cpp the
// connections the master accepts itself (fdpass, fork); reload.cpp; admin_routes.cpp;
// discovery_bridge.cpp ZooKeeper and the control channels that carry its news to the workers.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "admin/admin_server.h"
#include "admin/http_request.h"
#include "conf/config.h"
#include "core/message.h"
#include "core/stats.h"
#include "discovery/zookeeper_client.h"
#include "process/pid_file.h"
#include "process/serve.h"
#include "process/systemd_notify.h"

namespace rpcgate {

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
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point respawn_at;
  int quick_deaths = 0;
  bool respawn_pending = false;
  bool given_up = false;
  int channel = -1;                  // fdpass: the master's end of the socket it passes connections over
  uint64_t passed = 0;               // fdpass: connections passed since this worker started
  uint64_t accepted_base = 0;        // fdpass: its slot's connections_accepted when it started
  int control = -1;                  // the master's end of its control channel (control_channel.h)
  std::string control_out;           // the rest of the frame being written to it
  bool control_dirty = false;        // owes it the current snapshot
  bool ready = false;                // it said it serves
  std::thread thread;                // model threads: the worker (pid stays 0)
  std::shared_ptr<ThreadExit> exit;  // model threads: set while the thread runs

  bool running() const { return pid > 0 || exit != nullptr; }
};

// A waitpid status as a log line says it: "exited with status 1", "was killed by SIGKILL".
std::string describe_status(int status);

class Master final : public discovery::ZooKeeperClient::Events {
 public:
  Master(std::string path, conf::Config config, SystemdNotifier notifier)
      : path_(std::move(path)),
        config_(std::make_shared<conf::Config>(std::move(config))),
        notifier_(std::move(notifier)) {}

  // Runs until the workers have drained; the process exit code.
  int run();

 private:
  using Clock = std::chrono::steady_clock;
  using milliseconds = std::chrono::milliseconds;

  // What a reload did, for POST /reload: applied, or why not (also logged).
  struct ReloadOutcome {
    bool applied = false;
    std::string message;
  };

  bool threads() const { return config_->process.model == conf::ProcessModel::kThreads; }
  bool forking() const { return config_->process.model == conf::ProcessModel::kFork; }
  bool accepting_here() const { return config_->process.model == conf::ProcessModel::kFdpass || forking(); }

  // master.cpp: the poll loop, signals, the drain.
  bool bind_listeners(const conf::Config& config, std::map<std::string, int>& fds);
  std::vector<int> fds_in_listener_order() const;
  void on_signal(int signum);
  int supervise();
  int next_wait_ms() const;
  void run_deadlines();
  void begin_stop(int signum);
  void drain_workers();
  void apply_logging();
  void notify_reloading();
  void notify_ready();

  // worker_supervisor.cpp: the worker slots.
  static unsigned worker_count(const conf::Config& config);
  size_t free_stats_slot() const;
  void spawn_generation(unsigned count);
  static bool open_pair(int& master_end, int& worker_end);
  void spawn(WorkerSlot& slot);
  ServeOptions worker_options(const WorkerSlot& slot, int control) const;
  void start_thread(WorkerSlot& slot, int control);
  void join_threads();
  [[noreturn]] void run_worker(const WorkerSlot& slot, int passed_fds, int control);
  void become_child(ServeOptions& options);
  void schedule_respawn(WorkerSlot& slot, milliseconds delay);
  void on_worker_exit(std::vector<WorkerSlot>::iterator slot, int status);
  void reap();
  void signal_worker(WorkerSlot& slot, int signum);
  void signal_workers(int signum, bool include_retiring = true);
  bool any_worker_alive() const;
  bool every_slot_given_up() const;

  // accept_dispatch.cpp: fdpass and fork, where the master accepts.
  void accept_and_fork(int listen_fd, size_t listener);
  [[noreturn]] void run_child(int fd, size_t listener, size_t stats_slot);
  void on_child_exit(std::map<pid_t, size_t>::iterator child, int status);
  WorkerSlot* least_loaded(const std::vector<WorkerSlot*>& excluded);
  void accept_and_pass(int listen_fd, size_t listener);

  // reload.cpp
  ReloadOutcome reload();
  ReloadOutcome reload_certificates(std::shared_ptr<conf::Config> fresh);
  ReloadOutcome refuse(std::string why);

  // admin_routes.cpp
  struct AdminPage;
  static const std::vector<AdminPage>& admin_pages();
  static std::string page_list();
  bool configure_admin();
  void on_config_applied();
  std::string not_ready_reason() const;
  admin::HttpResponse serve_admin(const admin::HttpRequest& request);
  Json logging_view() const;
  admin::HttpResponse set_logging(const admin::HttpRequest& request);
  admin::HttpResponse fail_healthcheck(const admin::HttpRequest& request);
  Json listeners_view() const;
  std::vector<size_t> live_stats_slots() const;
  Json server_info() const;

  // discovery_bridge.cpp: ZooKeeper and the control channels.
  void configure_zookeeper();
  std::vector<discovery::ZooKeeperClient::Registration> wanted_registrations() const;
  void wait_for_discovery();
  size_t add_zookeeper_interest(std::vector<pollfd>& polled, int& wait_ms);
  void on_nodes_changed(const std::string&) override;
  bool workers_ready() const;
  void after_zookeeper_events();
  void send_snapshots();
  void close_control(WorkerSlot& slot);
  void service_control(int fd, short revents);
  void write_control(WorkerSlot& slot);

  std::string path_;
  // The current one; forked workers serve a copy of it, worker threads a share.
  std::shared_ptr<conf::Config> config_;
  std::map<std::string, int> listen_fds_;  // prefork: by address
  PidFile pid_file_;
  int generation_ = 0;
  std::vector<WorkerSlot> slots_;
  std::map<pid_t, size_t> children_;   // model fork: each child's stats slot
  std::unique_ptr<StatsTable> stats_;  // shared with every worker; slot i is worker i's
  int master_pipe_[2] = {-1, -1};
  int thread_exits_[2] = {-1, -1};  // model threads: a worker thread writes a byte as it returns
  sigset_t watched_{};
  sigset_t original_mask_{};
  int signal_fd_ = -1;
  std::unique_ptr<admin::AdminServer> admin_;
  std::string admin_address_;  // where admin_ listens
  // Why POST /healthcheck/fail holds /readyz at 503, or "" when it does not; kept across reloads.
  std::string healthcheck_failure_;
  bool log_level_from_admin_ = false;  // POST /logging set the level; the next reload sets the file's
  std::string config_fingerprint_;     // FNV-1a 64 of the file when it was applied (/server_info)
  std::chrono::system_clock::time_point config_applied_;
  std::unique_ptr<discovery::ZooKeeperClient> zookeeper_;
  bool registering_ = false;  // the workers were ready once: the registrations are wanted
  int stop_signal_ = SIGTERM;
  Clock::time_point deregister_deadline_ = Clock::time_point::max();
  bool stopping_ = false;
  bool force_exit_ = false;
  int exit_code_ = 0;
  Clock::time_point stop_deadline_;
  SystemdNotifier notifier_;
  // The generation systemd was last told is ready (0: none yet), and whether a reload awaits its
  // READY=1 even if it started no generation (a refused one).
  int notified_generation_ = 0;
  bool reload_unanswered_ = false;
};

}  // namespace rpcgate
