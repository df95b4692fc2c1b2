#include "process/control_channel.h"

#include <cstring>

#include "core/log.h"

namespace rpcgate {

std::string control_frame(ControlKind kind, std::string_view payload) {
  auto size = static_cast<uint32_t>(payload.size() + 1);
  std::string frame(4, '\0');
  for (int i = 0; i < 4; ++i) frame[i] = static_cast<char>((size >> (8 * i)) & 0xff);
  frame.push_back(static_cast<char>(kind));
  frame.append(payload);
  return frame;
}

bool ControlChannel::open(int fd) {
  uv_pipe_init(loop_, &pipe_, 0);
  pipe_.data = this;
  open_ = true;
  auto* stream = reinterpret_cast<uv_stream_t*>(&pipe_);
  return uv_pipe_open(&pipe_, fd) == 0 &&
         uv_read_start(stream, &ControlChannel::on_alloc, &ControlChannel::on_read) == 0;
}

void ControlChannel::send_ready() {
  uv_buf_t buf = uv_buf_init(const_cast<char*>(&kControlReady), 1);
  // One byte into an empty socket buffer: it cannot be partly written.
  if (uv_try_write(reinterpret_cast<uv_stream_t*>(&pipe_), &buf, 1) != 1)
    LOG_WARN("cannot tell the master this worker is ready; it will not register in ZooKeeper");
}

void ControlChannel::close() {
  auto* handle = reinterpret_cast<uv_handle_t*>(&pipe_);
  if (open_ && !uv_is_closing(handle)) uv_close(handle, nullptr);
}

void ControlChannel::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<ControlChannel*>(handle->data);
  *buf = uv_buf_init(self->chunk_, sizeof self->chunk_);
}

void ControlChannel::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<ControlChannel*>(stream->data);
  if (nread < 0) {
    uv_read_stop(stream);  // the master is gone: its pipe says so too, and drains this worker
    return;
  }
  self->input_.append(buf->base, static_cast<size_t>(nread));
  self->take_frames();
}

void ControlChannel::take_frames() {
  size_t at = 0;
  while (input_.size() - at >= 4) {
    uint32_t size = 0;
    for (int i = 0; i < 4; ++i) size |= static_cast<uint32_t>(static_cast<unsigned char>(input_[at + i])) << (8 * i);
    if (size == 0 || size > kMaxControlFrame) {
      LOG_ERROR("control channel: a frame of %u bytes from the master; ignoring the channel from now on", size);
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&pipe_));
      input_.clear();
      return;
    }
    if (input_.size() - at - 4 < size) break;
    on_frame_(static_cast<ControlKind>(input_[at + 4]), std::string_view(input_).substr(at + 5, size - 1));
    at += 4 + size;
  }
  input_.erase(0, at);
}

}  // namespace rpcgate
