// One connection of the load generator: its socket, its requests in flight, and two buffers sized
// at the start. The output holds at most --pipeline requests; the input grows past its first size
// only for an answer that does not fit, and never past one maximal answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "bench/loadgen/inflight.h"
#include "bench/loadgen/workload.h"

namespace rpcgate::loadgen {

enum class IoStatus { kOk, kWouldBlock, kClosed, kError, kTooLarge };

class Connection {
 public:
  Connection(int fd, uint32_t pipeline, size_t max_request_bytes);
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void close();

  InFlight& in_flight() { return in_flight_; }

  // Appends `count` requests of `workload` (count <= in_flight().room()), numbered from
  // `sequence` on, each stamped `now_ns` as its send time.
  void append(Workload& workload, uint64_t& sequence, uint32_t count, uint64_t now_ns);

  // One write of everything not yet sent.
  IoStatus flush();
  bool unsent() const { return out_begin_ < out_end_; }

  // One read into the input (kTooLarge: the input is full of one incomplete answer).
  IoStatus read();
  std::string_view input() const { return {in_.get() + in_begin_, in_end_ - in_begin_}; }
  void consume(size_t count) { in_begin_ += count; }

  bool watching_write = false;  // whether epoll reports writability (kept by the runner)

 private:
  int fd_;
  InFlight in_flight_;
  std::unique_ptr<char[]> out_;
  size_t out_begin_ = 0, out_end_ = 0;  // room for --pipeline requests, by construction
  std::unique_ptr<char[]> in_;
  size_t in_capacity_, in_begin_ = 0, in_end_ = 0;
};

}  // namespace rpcgate::loadgen
