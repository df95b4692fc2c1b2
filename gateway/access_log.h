// One worker's access log: a JSON line per logged request, appended to a memory buffer and
// written by the libuv thread pool (uv_fs_write), at most once a second or when 64 KiB are
// waiting, so the event loop never waits for the disk. Each worker appends to the same file with
// O_APPEND; each write holds whole lines, so lines never interleave. A disk that cannot keep up
// costs lines, counted, never memory: past 8 MiB waiting, new lines are dropped.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "core/stats.h"

namespace rpcgate {

// What one line says; views into the caller's objects, used during the call only.
struct AccessRecord {
  std::string_view listener;
  std::string_view peer;
  std::string_view identity;  // the client certificate's (mutual TLS); "" = none, and no field
  std::string_view method;
  long route = -1;  // its index in the config, or -1 when no route chose the target
  std::string_view cluster;
  std::string_view endpoint;
  std::string_view status;  // "OK" or an error code name
  uint64_t bytes = 0;       // the request frame
  uint64_t latency_us = 0;
};

class AccessLog {
 public:
  AccessLog(uv_loop_t* loop, const conf::LoggingConfig& config, Stats& stats);
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Opens the file; false with `error` when it cannot.
  bool open(std::string& error);
  // Whether the next request is one of the sampled ones (one in access_log_sample).
  bool sample() { return ++seen_ % every_ == 0; }
  void write(const AccessRecord& record);
  // SIGUSR1: the file was renamed (logrotate); lines go to a new file at the same path.
  void reopen();
  // Writes what is left (synchronously: the process is exiting) and closes the file.
  void close();

 private:
  static void on_timer(uv_timer_t* timer);
  static void on_written(uv_fs_t* request);
  void start_write();

  uv_loop_t* loop_;
  const conf::LoggingConfig& config_;
  Stats& stats_;
  uint64_t every_;
  uint64_t seen_ = 0;
  int fd_ = -1;
  int retired_fd_ = -1;  // the file before a reopen, closed once its last write is done
  std::string buffer_;   // lines waiting
  std::string writing_;  // lines the thread pool is writing
  uv_fs_t write_request_{};
  uv_buf_t write_buf_{};
  bool write_in_flight_ = false;
  uv_timer_t timer_{};
  bool timer_open_ = false;
  time_t stamp_second_ = -1;
  char stamp_[32] = {};  // "2026-11-27T19:35:14." for stamp_second_
};

}  // namespace rpcgate
