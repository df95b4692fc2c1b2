// The socket between the master and one worker, beside the master pipe (whose end-of-file only
// says the master is gone). Master to worker: frames of a 4-byte little-endian length, a kind
// byte and a payload. A snapshot frame carries the whole discovery snapshot (discovery/nodes.h),
// so a worker that missed one loses nothing; the other kinds are the commands a thread worker
// gets instead of the signals a worker process gets, the log level the admin port set, and the
// reload that only re-reads certificate files in the running workers.
// Worker to master: the single byte kReady once it serves, which the master waits for before
// registering the gateway in ZooKeeper.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace rpcgate {

constexpr char kControlReady = 'R';

enum class ControlKind : char {
  kSnapshot = 'S',    // payload: discovery::encode_snapshot
  kDrain = 'T',       // as SIGTERM: drain, then exit
  kReopenLogs = 'U',  // as SIGUSR1: reopen the access log
  kLogLevel = 'L',    // payload: a level name (POST /logging); a worker forked later inherits it
  kReloadTls = 'C',   // a reload that changed only certificate files: read them again (Gateway::reload_tls)
};
// A snapshot of kMaxNodesPerPath nodes on each of many paths stays far below this.
constexpr uint32_t kMaxControlFrame = 64u << 20;

std::string control_frame(ControlKind kind, std::string_view payload = {});

// The worker's end, on its loop.
class ControlChannel {
 public:
  using OnFrame = std::function<void(ControlKind kind, std::string_view payload)>;

  ControlChannel(uv_loop_t* loop, OnFrame on_frame) : loop_(loop), on_frame_(std::move(on_frame)) {}
  ControlChannel(const ControlChannel&) = delete;
  ControlChannel& operator=(const ControlChannel&) = delete;

  bool open(int fd);
  void send_ready();
  void close();

 private:
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void take_frames();

  uv_loop_t* loop_;
  OnFrame on_frame_;
  uv_pipe_t pipe_{};
  bool open_ = false;
  std::string input_;
  char chunk_[64 * 1024];
};

}  // namespace rpcgate
