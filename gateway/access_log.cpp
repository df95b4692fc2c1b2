#include "gateway/access_log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "core/log.h"

namespace rpcgate {
namespace {

constexpr size_t kWriteAtBytes = 64 * 1024;
constexpr size_t kMaxWaitingBytes = 8u << 20;
constexpr uint64_t kFlushIntervalMs = 1000;

int open_for_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

// A JSON string: quotes, backslashes and control bytes escaped; bytes that are not ASCII as
// \u00XX, so a client's binary method name can never make the line invalid JSON.
void append_string(std::string& out, std::string_view text) {
  out += '"';
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void append_string_or_null(std::string& out, std::string_view text) {
  if (text.empty())
    out += "null";
  else
    append_string(out, text);
}

}  // namespace

AccessLog::AccessLog(uv_loop_t* loop, const conf::LoggingConfig& config, Stats& stats)
    : loop_(loop),
      config_(config),
      stats_(stats),
      every_(config.access_log_sample == 0 ? 1 : config.access_log_sample) {
  write_request_.data = this;
  timer_.data = this;
}

bool AccessLog::open(std::string& error) {
  fd_ = open_for_append(config_.access_log_file);
  if (fd_ < 0) {
    error = "access log " + config_.access_log_file + ": cannot open: " + strerror(errno);
    return false;
  }
  uv_timer_init(loop_, &timer_);
  timer_open_ = true;
  uv_timer_start(&timer_, &AccessLog::on_timer, kFlushIntervalMs, kFlushIntervalMs);
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));  // it must not keep a draining loop alive
  return true;
}

void AccessLog::write(const AccessRecord& r) {
  if (fd_ < 0) return;
  if (buffer_.size() > kMaxWaitingBytes) {
    ++stats_.access_log_dropped;
    return;
  }
  timeval now{};
  gettimeofday(&now, nullptr);
  if (now.tv_sec != stamp_second_) {  // one strftime a second, not one a line
    tm utc{};
    gmtime_r(&now.tv_sec, &utc);
    strftime(stamp_, sizeof stamp_, "%Y-%m-%dT%H:%M:%S.", &utc);
    stamp_second_ = now.tv_sec;
  }
  char millis[8];
  std::snprintf(millis, sizeof millis, "%03dZ", static_cast<int>(now.tv_usec / 1000));
  std::string& out = buffer_;
  out += "{\"time\":\"";
  out += stamp_;
  out += millis;
  out += "\",\"listener\":";
  append_string(out, r.listener);
  out += ",\"peer\":";
  append_string_or_null(out, r.peer);
  if (!r.identity.empty()) {
    out += ",\"identity\":";
    append_string(out, r.identity);
  }
  out += ",\"method\":";
  append_string(out, r.method);
  out += ",\"route\":";
  out += r.route < 0 ? "null" : std::to_string(r.route);
  out += ",\"cluster\":";
  append_string_or_null(out, r.cluster);
  out += ",\"endpoint\":";
  append_string_or_null(out, r.endpoint);
  out += ",\"status\":";
  append_string(out, r.status);
  out += ",\"bytes\":";
  out += std::to_string(r.bytes);
  out += ",\"latency_us\":";
  out += std::to_string(r.latency_us);
  out += "}\n";
  ++stats_.access_log_lines;
  if (buffer_.size() >= kWriteAtBytes) start_write();
}

void AccessLog::on_timer(uv_timer_t* timer) { static_cast<AccessLog*>(timer->data)->start_write(); }

void AccessLog::start_write() {
  if (write_in_flight_ || buffer_.empty() || fd_ < 0) return;
  writing_.swap(buffer_);
  buffer_.clear();
  write_buf_ = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
  if (uv_fs_write(loop_, &write_request_, fd_, &write_buf_, 1, -1, &AccessLog::on_written) != 0) {
    ++stats_.access_log_dropped;
    writing_.clear();
    return;
  }
  write_in_flight_ = true;
}

void AccessLog::on_written(uv_fs_t* request) {
  auto* self = static_cast<AccessLog*>(request->data);
  ssize_t result = request->result;
  uv_fs_req_cleanup(request);
  self->write_in_flight_ = false;
  if (result < 0) {
    LOG_ERROR("access log %s: write failed: %s", self->config_.access_log_file.c_str(),
              uv_strerror(static_cast<int>(result)));
    ++self->stats_.access_log_dropped;
  } else if (static_cast<size_t>(result) < self->writing_.size()) {
    // A short write to a regular file means the disk is full: the rest is lost, not retried.
    ++self->stats_.access_log_dropped;
  }
  self->writing_.clear();
  if (self->retired_fd_ >= 0) {
    ::close(self->retired_fd_);
    self->retired_fd_ = -1;
  }
  if (self->buffer_.size() >= kWriteAtBytes) self->start_write();
}

void AccessLog::reopen() {
  if (fd_ < 0) return;
  int fresh = open_for_append(config_.access_log_file);
  if (fresh < 0) {
    LOG_ERROR("access log %s: cannot reopen: %s; still writing to the old file", config_.access_log_file.c_str(),
              strerror(errno));
    return;
  }
  // Lines logged so far go to the old file, those logged from now on to the new one (unless a
  // write is already in flight: then what waits behind it goes to the new file).
  start_write();
  if (write_in_flight_ && retired_fd_ < 0)
    retired_fd_ = fd_;  // the write in flight is on it
  else
    ::close(fd_);  // idle (a write in flight, if any, is on the file before it)
  fd_ = fresh;
}

void AccessLog::close() {
  if (timer_open_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    timer_open_ = false;
  }
  if (fd_ < 0) return;
  if (!buffer_.empty() && ::write(fd_, buffer_.data(), buffer_.size()) < 0)
    LOG_ERROR("access log %s: final write failed: %s", config_.access_log_file.c_str(), strerror(errno));
  buffer_.clear();
  // A write still in flight ends on the loop, which runs until it has: its callback closes this
  // descriptor then.
  if (write_in_flight_ && retired_fd_ < 0)
    retired_fd_ = fd_;
  else
    ::close(fd_);
  fd_ = -1;
}

}  // namespace rpcgate
