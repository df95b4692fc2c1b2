// Log lines are formatted whole and written with one write(2) so lines from several processes
// or threads sharing a descriptor never interleave mid-line. Each names its thread id, which is
// the process id except for the workers of model threads.
#include "core/log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>

namespace rpcgate {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_fd{STDERR_FILENO};

}  // namespace

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

bool parse_log_level(std::string_view name, LogLevel& level) {
  for (LogLevel candidate : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (name == log_level_name(candidate)) {
      level = candidate;
      return true;
    }
  }
  return false;
}

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }

bool log_enabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

// Several threads may log while one reopens the file (model threads): the descriptor number
// stays the same once a file is open, and dup2 swaps the file behind it in one step, so a
// writer never sees a closed or reused descriptor.
bool set_log_file(const std::string& path) {
  int current = g_fd.load();
  if (path.empty()) return current == STDERR_FILENO || dup2(STDERR_FILENO, current) >= 0;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  if (current == STDERR_FILENO) {
    g_fd.store(fd);
    return true;
  }
  bool swapped = dup3(fd, current, O_CLOEXEC) >= 0;
  close(fd);
  return swapped;
}

void log_line(LogLevel level, const char* format, ...) {
  char line[2048];
  timeval now{};
  gettimeofday(&now, nullptr);
  tm parts{};
  gmtime_r(&now.tv_sec, &parts);
  int used = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [%d] ", parts.tm_year + 1900,
                      parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                      static_cast<long>(now.tv_usec / 1000), log_level_name(level), static_cast<int>(gettid()));
  va_list args;
  va_start(args, format);
  int body = vsnprintf(line + used, sizeof line - used - 1, format, args);
  va_end(args);
  size_t length = used + (body < 0 ? 0 : std::min<size_t>(body, sizeof line - used - 2));
  line[length++] = '\n';
  ssize_t ignored = write(g_fd.load(std::memory_order_relaxed), line, length);
  (void)ignored;
}

}  // namespace rpcgate
