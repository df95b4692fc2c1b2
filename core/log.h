// Leveled logging to stderr (or a file): one line per event, with a timestamp, level and pid.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <string>
#include <string_view>

namespace rpcgate {

enum class LogLevel : int { kDebug = 0, kInfo, kWarn, kError };

// Returns false for an unknown name.
bool parse_log_level(std::string_view name, LogLevel& level);
void set_log_level(LogLevel level);
LogLevel log_level();
// "debug", "info", "warn", "error": the names parse_log_level takes.
const char* log_level_name(LogLevel level);
bool log_enabled(LogLevel level);
// Sends log lines to `path` (appending), or back to stderr for an empty path. False on failure.
bool set_log_file(const std::string& path);

void log_line(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

// For events a peer can repeat at will (refused connections, protocol errors): at most one line
// per second, saying how many events it stands for, so a flood of bad clients is not a flood of
// log lines.
class LogThrottle {
 public:
  // Counts one event; true when it should be logged now, with `events` (this one included)
  // the number it stands for.
  bool allow(uint64_t now_ms, uint64_t& events) {
    ++held_;
    if (logged_once_ && now_ms - last_ms_ < 1000) return false;
    events = held_;
    held_ = 0;
    last_ms_ = now_ms;
    logged_once_ = true;
    return true;
  }

 private:
  uint64_t held_ = 0;
  uint64_t last_ms_ = 0;
  bool logged_once_ = false;
};

}  // namespace rpcgate

// Macros so that arguments are not evaluated when the level is off.
#define RG_LOG(level, ...)                                                      \
  do {                                                                          \
    if (::rpcgate::log_enabled(level)) ::rpcgate::log_line(level, __VA_ARGS__); \
  } while (0)
#define LOG_DEBUG(...) RG_LOG(::rpcgate::LogLevel::kDebug, __VA_ARGS__)
#define LOG_INFO(...) RG_LOG(::rpcgate::LogLevel::kInfo, __VA_ARGS__)
#define LOG_WARN(...) RG_LOG(::rpcgate::LogLevel::kWarn, __VA_ARGS__)
#define LOG_ERROR(...) RG_LOG(::rpcgate::LogLevel::kError, __VA_ARGS__)
