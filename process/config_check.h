// Loading a configuration the way both start-up and reload need it: parsed, validated, and
// checked against what this build can run.
#pragma once

#include <string>

#include "conf/config.h"

namespace rpcgate {

// Everything `rpcgate -t` checks: the file parses and validates, asks for nothing this build
// cannot run, and names only registered handlers. On failure fills `error` (one problem per line,
// each with FILE:LINE) and returns false.
bool load_checked_config(const std::string& path, conf::Config& config, std::string& error);

}  // namespace rpcgate
