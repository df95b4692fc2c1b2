// fdpass, both ends of the Unix socket a connection travels over: the master accepts it and
// passes its descriptor on (pass_connection), a worker receives it into one of its listeners
// (FdReceiver). Each descriptor goes with one byte, the index of the listener it was accepted on.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>

namespace rpcgate {

class Listener;

// The master's side: sends `fd`, accepted on listener `listener`, over `channel` without
// blocking. False when the channel is full or its worker is gone; the caller still holds `fd`.
bool pass_connection(int channel, int fd, size_t listener);

// A worker's side: reads the socket as a libuv IPC pipe. Owns its uv_pipe_t; frees itself in the
// close callback.
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
