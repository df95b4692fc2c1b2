// A connection's reads and writes: non-blocking, one system call each, partial ones resumed.
#include "bench/loadgen/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace rpcgate::loadgen {
namespace {

constexpr size_t kFirstInputBytes = 16u << 10;
constexpr size_t kMaxInputBytes = kMaxFrameBytes + (64u << 10);  // one maximal answer and its header

}  // namespace

Connection::Connection(int fd, uint32_t pipeline, size_t max_request_bytes)
    : fd_(fd),
      in_flight_(pipeline),
      out_(std::make_unique_for_overwrite<char[]>(pipeline * max_request_bytes)),
      in_(std::make_unique_for_overwrite<char[]>(kFirstInputBytes)),
      in_capacity_(kFirstInputBytes) {}

void Connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Connection::append(Workload& workload, uint64_t& sequence, uint32_t count, uint64_t now_ns) {
  if (out_begin_ > 0) {  // what is unsent moves to the front: it and `count` more fit by design
    std::memmove(out_.get(), out_.get() + out_begin_, out_end_ - out_begin_);
    out_end_ -= out_begin_;
    out_begin_ = 0;
  }
  for (uint32_t i = 0; i < count; ++i) {
    InFlightRequest& request = in_flight_.push();
    request.sent_ns = now_ns;
    out_end_ += workload.write(sequence++, request, out_.get() + out_end_);
  }
}

IoStatus Connection::flush() {
  if (!unsent()) return IoStatus::kOk;
  ssize_t n = ::send(fd_, out_.get() + out_begin_, out_end_ - out_begin_, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IoStatus::kWouldBlock : IoStatus::kError;
  out_begin_ += static_cast<size_t>(n);
  if (out_begin_ == out_end_) out_begin_ = out_end_ = 0;
  return unsent() ? IoStatus::kWouldBlock : IoStatus::kOk;
}

IoStatus Connection::read() {
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  if (in_end_ == in_capacity_) {
    if (in_begin_ > 0) {
      std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
      in_end_ -= in_begin_;
      in_begin_ = 0;
    } else if (in_capacity_ < kMaxInputBytes) {
      size_t bigger = std::min(in_capacity_ * 2, kMaxInputBytes);
      auto grown = std::make_unique_for_overwrite<char[]>(bigger);
      std::memcpy(grown.get(), in_.get(), in_end_);
      in_ = std::move(grown);
      in_capacity_ = bigger;
    } else {
      return IoStatus::kTooLarge;
    }
  }
  ssize_t n = ::recv(fd_, in_.get() + in_end_, in_capacity_ - in_end_, MSG_DONTWAIT);
  if (n > 0) {
    in_end_ += static_cast<size_t>(n);
    return IoStatus::kOk;
  }
  if (n == 0) return IoStatus::kClosed;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? IoStatus::kWouldBlock : IoStatus::kError;
}

}  // namespace rpcgate::loadgen
