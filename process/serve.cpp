#include "process/serve.h"

#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <cstdlib>
#include <cstring>

#include "core/log.h"
#include "gateway/gateway.h"
#include "process/control_channel.h"

namespace rpcgate {
namespace {

// The loop-side owner of the signal handles and of the master watch; lives on serve()'s stack.
struct ProcessHandles {
  Gateway* gateway = nullptr;
  const conf::Config* config = nullptr;
  const ServeOptions* options = nullptr;
  uv_signal_t terminate{};
  uv_signal_t interrupt{};
  uv_signal_t hangup{};
  uv_signal_t reopen_logs{};
  uv_pipe_t master{};
  bool signals = true;  // the signal handles were started
  bool watching_master = false;
  ControlChannel* control = nullptr;
  SystemdNotifier* notifier = nullptr;
  int stop_requests = 0;

  // True for the first request to stop (a signal, the master's command or disappearance, the
  // end of a fork child's connection): that one drains, the later ones find it draining.
  bool first_stop() { return stop_requests++ == 0; }

  void close_all() {
    for (uv_handle_t* handle : {reinterpret_cast<uv_handle_t*>(&terminate), reinterpret_cast<uv_handle_t*>(&interrupt),
                                reinterpret_cast<uv_handle_t*>(&hangup), reinterpret_cast<uv_handle_t*>(&reopen_logs)})
      if (signals && !uv_is_closing(handle)) uv_close(handle, nullptr);
    if (watching_master && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&master)))
      uv_close(reinterpret_cast<uv_handle_t*>(&master), nullptr);
    if (control != nullptr) control->close();
  }

  void drain(uv_loop_t* loop) {
    if (notifier != nullptr) notifier->stopping();
    gateway->drain([this, loop] {
      close_all();
      // Calls abandoned on the thread pool would keep the loop running past drain_timeout.
      if (gateway->drain_timed_out()) uv_stop(loop);
    });
  }
};

void on_stop_signal(uv_signal_t* handle, int signum) {
  auto* handles = static_cast<ProcessHandles*>(handle->data);
  if (!handles->first_stop()) {
    LOG_WARN("%s again: exiting at once", strsignal(signum));
    _exit(1);
  }
  // A worker's stop comes from its master, on a reload as on a stop: the master's own line says
  // which, and sending it again is the operator's move on the master, not here.
  if (handles->options->master_fd >= 0)
    LOG_INFO("%s: SIG%s from the master: draining", handles->options->role.c_str(), sigabbrev_np(signum));
  else
    LOG_INFO("%s: draining (send it again to exit at once)", strsignal(signum));
  handles->drain(handle->loop);
}

void on_control_frame(ProcessHandles& handles, const ServeOptions& options, ControlKind kind,
                      std::string_view payload) {
  switch (kind) {
    case ControlKind::kSnapshot: {
      discovery::Snapshot snapshot;
      std::string problem;
      if (discovery::decode_snapshot(payload, snapshot, problem))
        handles.gateway->apply_discovery(snapshot);
      else
        LOG_ERROR("%s: %s from the master; keeping the endpoints it had", options.role.c_str(), problem.c_str());
      return;
    }
    case ControlKind::kDrain:
      if (!handles.first_stop()) return;
      LOG_INFO("%s: draining", options.role.c_str());
      handles.drain(handles.gateway->loop());
      return;
    case ControlKind::kReopenLogs:
      handles.gateway->reopen_access_log();  // the log file itself is the master's to reopen
      return;
    case ControlKind::kReloadTls:
      handles.gateway->reload_tls(options.role);
      return;
    case ControlKind::kLogLevel: {
      LogLevel level;
      if (!parse_log_level(payload, level)) {
        LOG_ERROR("%s: unknown log level from the master; keeping %s", options.role.c_str(),
                  log_level_name(log_level()));
        return;
      }
      set_log_level(level);
      LOG_INFO("%s: log level %s, set by the master (POST /logging)", options.role.c_str(), log_level_name(level));
      return;
    }
  }
  LOG_ERROR("%s: unknown command %d from the master; ignored", options.role.c_str(), static_cast<int>(kind));
}

void on_hangup(uv_signal_t*, int) { LOG_WARN("SIGHUP: reloading is done by the master process; ignored here"); }

void on_reopen_logs(uv_signal_t* handle, int) {
  auto* handles = static_cast<ProcessHandles*>(handle->data);
  const std::string& file = handles->config->logging.file;
  if (!set_log_file(file))
    LOG_ERROR("SIGUSR1: cannot reopen log file %s", file.c_str());
  else if (handles->options->master_fd < 0)  // a worker's reopening is the master's line
    LOG_INFO("SIGUSR1: log reopened (%s)", file.empty() ? "stderr" : file.c_str());
  handles->gateway->reopen_access_log();
}

void on_master_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  static char sink[64];
  *buf = uv_buf_init(sink, sizeof sink);
}

// The master never writes to the pipe; a read returns only when its last writer, the master,
// has gone (even killed with SIGKILL). A worker must not outlive it: drain and exit.
void on_master_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  if (nread >= 0) return;
  auto* handles = static_cast<ProcessHandles*>(stream->data);
  uv_read_stop(stream);
  if (!handles->first_stop()) return;
  LOG_WARN("the master process is gone: draining and exiting");
  handles->drain(stream->loop);
}

}  // namespace

int serve(const conf::Config& config, const ServeOptions& options) {
  signal(SIGPIPE, SIG_IGN);  // a peer that vanished is a write error, not a fatal signal
  // A worker thread must not even touch the default loop: its lazy creation is not thread-safe.
  uv_loop_t own_loop{};
  uv_loop_t* loop = &own_loop;
  if (options.thread)
    uv_loop_init(&own_loop);
  else
    loop = uv_default_loop();
  std::unique_ptr<StatsTable> own_stats;
  if (options.stats == nullptr) own_stats = StatsTable::create(1);
  Gateway gateway(loop, config, options.stats ? *options.stats : *own_stats, options.stats_slot);
  ProcessHandles handles;
  handles.gateway = &gateway;
  handles.config = &config;
  handles.options = &options;
  handles.signals = !options.thread;
  handles.notifier = options.notifier;
  struct {
    uv_signal_t* handle;
    uv_signal_cb callback;
    int signum;
  } const table[] = {{&handles.terminate, on_stop_signal, SIGTERM},
                     {&handles.interrupt, on_stop_signal, SIGINT},
                     {&handles.hangup, on_hangup, SIGHUP},
                     {&handles.reopen_logs, on_reopen_logs, SIGUSR1}};
  if (handles.signals) {
    for (const auto& entry : table) {
      uv_signal_init(loop, entry.handle);
      entry.handle->data = &handles;
      uv_signal_start(entry.handle, entry.callback, entry.signum);
    }
  }
  if (options.master_fd >= 0) {
    uv_pipe_init(loop, &handles.master, 0);
    handles.master.data = &handles;
    handles.watching_master =
        uv_pipe_open(&handles.master, options.master_fd) == 0 &&
        uv_read_start(reinterpret_cast<uv_stream_t*>(&handles.master), on_master_alloc, on_master_read) == 0;
    if (!handles.watching_master) LOG_ERROR("%s: cannot watch the master process", options.role.c_str());
  }

  ControlChannel control(loop, [&handles, &options](ControlKind kind, std::string_view payload) {
    on_control_frame(handles, options, kind, payload);
  });
  if (options.control_fd >= 0) {
    handles.control = &control;
    if (!control.open(options.control_fd))
      LOG_ERROR("%s: cannot read the master's control channel", options.role.c_str());
  }

  std::string error;
  int exit_code = 0;
  if (!gateway.start(options.sockets, error, options.discovered)) {
    LOG_ERROR("%s", error.c_str());
    exit_code = 1;
    if (handles.first_stop()) handles.drain(loop);
  } else if (options.sockets.connection_fd >= 0) {
    // fork: one connection, then exit; one line per connection would flood the log at info.
    LOG_DEBUG("serving as %s", options.role.c_str());
    gateway.on_last_connection([&handles, loop] {
      if (handles.first_stop()) handles.drain(loop);
    });
  } else {
    LOG_INFO("rpcgate " RPCGATE_VERSION " serving as %s (%s %d)", options.role.c_str(),
             options.thread ? "thread" : "pid", static_cast<int>(options.thread ? gettid() : getpid()));
    if (handles.control != nullptr) control.send_ready();
    if (options.notifier != nullptr) options.notifier->ready("serving");
  }
  uv_run(loop, UV_RUN_DEFAULT);
  uv_run(loop, UV_RUN_NOWAIT);  // close callbacks of the handles closed last
  int rc = uv_loop_close(loop);
  if (rc != 0 && gateway.drain_timed_out() && options.thread) {
    // The process goes on: let the abandoned thread-pool calls finish (each is bounded, pi by
    // pi_max_terms) so that nothing they touch is freed under them.
    LOG_WARN("%s: drain_timeout: waiting for the calls still running on the thread pool", options.role.c_str());
    uv_run(loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(loop);
  }
  if (rc != 0 && gateway.drain_timed_out()) {
    // libuv's exit-time destructor would join the thread pool and wait for those calls.
    LOG_WARN("drain_timeout: exiting with calls still running on the thread pool");
    _exit(exit_code);
  }
  if (rc != 0) LOG_ERROR("event loop closed with handles still open: %s", uv_strerror(rc));
  if (options.sockets.connection_fd >= 0)
    LOG_DEBUG("%s exiting with status %d", options.role.c_str(), exit_code);
  else
    LOG_INFO("%s exiting with status %d", options.role.c_str(), exit_code);
  return exit_code;
}

}  // namespace rpcgate
