// The closed loop: every connection keeps --pipeline requests in flight, sends the next ones as
// answers come back, and the run ends when --requests are answered or --duration is over. One
// thread and one epoll set; a connection that fails is closed and never reopened.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/loadgen/connection.h"
#include "bench/loadgen/histogram.h"
#include "bench/loadgen/options.h"
#include "bench/loadgen/workload.h"

namespace rpcgate::loadgen {

struct RunResult {
  uint64_t answered = 0;   // answers read and judged, good or not
  uint64_t errors = 0;     // wrong answers, and connections that failed
  bool timed_out = false;  // --duration ended the run
  double elapsed_s = 0;
  std::string first_error;  // which connection, what was wrong, and the answer's first bytes
  LatencyHistogram latency;
};

uint64_t now_ns();

class Runner {
 public:
  explicit Runner(const Options& options) : options_(options) {}
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Opens the connections, each with room for --pipeline requests of `max_request_bytes`.
  // False, with a sentence in `error`, when one cannot be opened.
  bool connect(size_t max_request_bytes, std::string& error);

  // Sends `count` requests of `workload`, numbered from 0, over the open connections, until each
  // is answered, `deadline_ns` passes or no connection is left. Latencies are recorded when `timed`.
  void run(Workload& workload, uint64_t count, uint64_t deadline_ns, bool timed, RunResult& result);

  size_t open_connections() const { return open_; }

 private:
  void on_readable(Connection& connection, size_t index);
  void take_answers(Connection& connection, size_t index, uint64_t now);
  void fill(Connection& connection, size_t index);
  void flush(Connection& connection, size_t index);
  void fail(Connection& connection, size_t index, std::string_view why, std::string_view answer);
  void note_error(size_t index, std::string_view why, std::string_view answer);

  const Options& options_;
  int epoll_fd_ = -1;
  std::vector<std::unique_ptr<Connection>> connections_;
  size_t open_ = 0;

  // The run under way.
  Workload* workload_ = nullptr;
  RunResult* result_ = nullptr;
  bool timed_ = false;
  uint64_t next_sequence_ = 0, end_sequence_ = 0, in_flight_ = 0;
};

}  // namespace rpcgate::loadgen
