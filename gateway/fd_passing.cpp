#include "gateway/fd_passing.h"

#include <sys/socket.h>

#include <cstring>

#include "core/log.h"
#include "gateway/listener.h"

namespace rpcgate {

bool pass_connection(int channel, int fd, size_t listener) {
  char index = static_cast<char>(listener);
  iovec data{&index, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  return sendmsg(channel, &message, MSG_DONTWAIT | MSG_NOSIGNAL) == 1;
}

FdReceiver::FdReceiver(uv_loop_t* loop, std::function<Listener*(size_t)> listener_at)
    : listener_at_(std::move(listener_at)) {
  uv_pipe_init(loop, &pipe_, 1);
  pipe_.data = this;
}

bool FdReceiver::open(int fd) {
  return uv_pipe_open(&pipe_, fd) == 0 &&
         uv_read_start(reinterpret_cast<uv_stream_t*>(&pipe_), &FdReceiver::on_alloc, &FdReceiver::on_read) == 0;
}

void FdReceiver::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<FdReceiver*>(handle->data);
  *buf = uv_buf_init(self->buffer_, sizeof self->buffer_);
}

void FdReceiver::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<FdReceiver*>(stream->data);
  auto* pipe = reinterpret_cast<uv_pipe_t*>(stream);
  if (nread < 0) {
    if (nread != UV_EOF) LOG_WARN("fdpass: reading from the master: %s", uv_strerror(static_cast<int>(nread)));
    self->close();
    return;
  }
  // One byte per descriptor, in the order the descriptors arrive.
  for (ssize_t i = 0; i < nread && uv_pipe_pending_count(pipe) > 0; ++i) {
    Listener* listener = self->listener_at_(static_cast<unsigned char>(buf->base[i]));
    if (listener == nullptr || uv_pipe_pending_type(pipe) != UV_TCP) {
      LOG_WARN("fdpass: a connection for an unknown listener %d; dropped", static_cast<unsigned char>(buf->base[i]));
      auto* drop = new uv_tcp_t;
      uv_tcp_init(stream->loop, drop);
      uv_accept(stream, reinterpret_cast<uv_stream_t*>(drop));
      uv_close(reinterpret_cast<uv_handle_t*>(drop),
               [](uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); });
      continue;
    }
    listener->adopt(stream);
  }
}

void FdReceiver::close() {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&pipe_),
           [](uv_handle_t* handle) { delete static_cast<FdReceiver*>(handle->data); });
}

}  // namespace rpcgate
