// Loading a configuration the way both start-up and reload need it: parsed, validated, and
// checked against what this build can run.
#pragma once

#include <string>
#include <vector>

#include "conf/config.h"

namespace rpcgate {

// Everything start-up and reload check: the file parses and validates (routes and handlers
// included, against the handlers this binary has), and asks for nothing this build cannot run.
// On failure fills `error` (one problem per line, each with FILE:LINE) and returns false.
bool load_checked_config(const std::string& path, conf::Config& config, std::string& error);

// What `rpcgate -t` checks beyond that: that every listener's and the admin port's address can
// be bound here. An address another socket listens on (the running gateway's, on a check before
// a reload) is a note, not a problem. Both lists hold "FILE:LINE: path: ..." lines.
struct BindCheck {
  std::vector<std::string> problems;
  std::vector<std::string> notes;
};
BindCheck check_addresses(const conf::Config& config);

}  // namespace rpcgate
