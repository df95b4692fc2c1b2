#include "gateway/single_process.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>

#include <uv.h>

#include "gateway/gateway.h"
#include "gateway/log.h"

namespace rpcgate {
namespace {

// The loop-side owner of the signal handles; lives on run_single_process's stack.
struct SignalHandling {
  Gateway* gateway = nullptr;
  const conf::Config* config = nullptr;
  uv_signal_t terminate{};
  uv_signal_t interrupt{};
  uv_signal_t hangup{};
  uv_signal_t reopen_logs{};
  int stop_requests = 0;

  void close_all() {
    for (uv_signal_t* handle : {&terminate, &interrupt, &hangup, &reopen_logs})
      if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(handle)))
        uv_close(reinterpret_cast<uv_handle_t*>(handle), nullptr);
  }
};

void on_stop_signal(uv_signal_t* handle, int signum) {
  auto* signals = static_cast<SignalHandling*>(handle->data);
  if (++signals->stop_requests > 1) {
    LOG_WARN("%s again: exiting at once", strsignal(signum));
    _exit(1);
  }
  LOG_INFO("%s: draining (send it again to exit at once)", strsignal(signum));
  signals->gateway->drain([signals, handle] {
    signals->close_all();
    // Calls abandoned on the thread pool would keep the loop running past drain_timeout.
    if (signals->gateway->drain_timed_out()) uv_stop(handle->loop);
  });
}

void on_hangup(uv_signal_t*, int) {
  LOG_WARN("SIGHUP: reloading needs a master process (process.model prefork); ignored in single mode");
}

void on_reopen_logs(uv_signal_t* handle, int) {
  auto* signals = static_cast<SignalHandling*>(handle->data);
  if (!set_log_file(signals->config->logging.file))
    LOG_ERROR("SIGUSR1: cannot reopen log file %s", signals->config->logging.file.c_str());
}

}  // namespace

int run_single_process(const conf::Config& config) {
  signal(SIGPIPE, SIG_IGN);  // a peer that vanished is a write error, not a fatal signal
  uv_loop_t* loop = uv_default_loop();
  Gateway gateway(loop, config);
  SignalHandling signals;
  signals.gateway = &gateway;
  signals.config = &config;
  struct {
    uv_signal_t* handle;
    uv_signal_cb callback;
    int signum;
  } const table[] = {{&signals.terminate, on_stop_signal, SIGTERM},
                     {&signals.interrupt, on_stop_signal, SIGINT},
                     {&signals.hangup, on_hangup, SIGHUP},
                     {&signals.reopen_logs, on_reopen_logs, SIGUSR1}};
  for (const auto& entry : table) {
    uv_signal_init(loop, entry.handle);
    entry.handle->data = &signals;
    uv_signal_start(entry.handle, entry.callback, entry.signum);
  }

  std::string error;
  int exit_code = 0;
  if (!gateway.start(error)) {
    LOG_ERROR("%s", error.c_str());
    exit_code = 1;
    gateway.drain([&signals] { signals.close_all(); });
  } else {
    LOG_INFO("rpcgate " RPCGATE_VERSION " serving (model single, pid %d)", static_cast<int>(getpid()));
  }
  uv_run(loop, UV_RUN_DEFAULT);
  uv_run(loop, UV_RUN_NOWAIT);  // close callbacks of the handles closed last
  int rc = uv_loop_close(loop);
  if (rc != 0 && gateway.drain_timed_out()) {
    // libuv's exit-time destructor would join the thread pool and wait for those calls.
    LOG_WARN("drain_timeout: exiting with calls still running on the thread pool");
    _exit(exit_code);
  }
  if (rc != 0) LOG_ERROR("event loop closed with handles still open: %s", uv_strerror(rc));
  LOG_INFO("exiting with status %d", exit_code);
  return exit_code;
}

}  // namespace rpcgate
