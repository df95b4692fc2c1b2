// fdpass: receives connections the master accepted, over a Unix socket read as a libuv IPC pipe.
// Each descriptor arrives with one byte, the index of the listener it was accepted on. Owns its
// uv_pipe_t; frees itself in the close callback.
#pragma once

#include <uv.h>

#include <functional>

namespace rpcgate {

class Listener;

class FdReceiver {
 public:
  // `listener_at(i)` is the listener of index i, or nullptr.
  FdReceiver(uv_loop_t* loop, std::function<Listener*(size_t)> listener_at);
  FdReceiver(const FdReceiver&) = delete;
  FdReceiver& operator=(const FdReceiver&) = delete;

  bool open(int fd);
  // Stops taking connections; the master then passes them to other workers.
  void close();

 private:
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

  uv_pipe_t pipe_{};
  std::function<Listener*(size_t)> listener_at_;
  char buffer_[256];
  bool closing_ = false;
};

}  // namespace rpcgate
