// Loading the YAML configuration into the typed Config of conf/config.h, with every value checked
// and every mistake reported as "FILE:LINE: message". The schema is documented in
// docs/configuration.md; this is the start-up path only, so it reports errors by throwing.
#pragma once

#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "conf/scalars.h"  // parse_duration, parse_size, parse_address

namespace rpcgate::conf {

// Every problem found in a file, in line order, one "FILE:LINE: message" each. what() joins them
// with newlines (at most kMaxShown, then a count of the rest).
class ConfigError : public std::runtime_error {
 public:
  static constexpr size_t kMaxShown = 50;

  explicit ConfigError(std::vector<std::string> messages);
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  std::vector<std::string> messages_;
};

// Reads and validates `path`. An unreadable file is a ConfigError naming the path and the reason.
// `known_handlers`: the handler names the binary has, checked with everything else (the loader
// knows none of its own); empty = not checked.
Config load_config_file(const std::string& path, std::span<const std::string_view> known_handlers = {});

// Validates `yaml` (YAML or JSON text); `name` stands for the file in messages and Config::path.
Config load_config_string(std::string_view yaml, const std::string& name,
                          std::span<const std::string_view> known_handlers = {});

// The settings of a valid config that this build cannot run (with the process model it names),
// one "FILE:LINE: setting: why" each, in file order. The gateway refuses to start while this is
// non-empty; `rpcgate -t` prints it.
std::vector<std::string> unrunnable_settings(const Config& config);

// The handlers enabled when the file has no `handlers` section (docs/handlers.md lists them).
inline constexpr std::string_view kDefaultHandlers[] = {"ping", "echo", "time", "pi", "info", "stats", "config"};

}  // namespace rpcgate::conf
