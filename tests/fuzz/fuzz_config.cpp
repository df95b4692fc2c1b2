// libFuzzer target for the config loader (YAML text -> validated Config): whatever the text, it
// loads or is refused with messages that each name the file, never crashes or hangs, and what
// loads loads again the same. Inputs naming users_file or users_env are skipped: those read files
// and the environment, which a fuzzer must not steer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "conf/config_loader.h"

using namespace rpcgate::conf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  if (yaml.find("users_") != std::string_view::npos) return 0;
  try {
    Config config = load_config_string(yaml, "fuzz.yaml");
    Config again = load_config_string(yaml, "fuzz.yaml");
    if (again.listeners.size() != config.listeners.size() || again.routes.size() != config.routes.size() ||
        again.clusters.size() != config.clusters.size())
      __builtin_trap();
    for (const auto& problem : unrunnable_settings(config))
      if (!problem.starts_with("fuzz.yaml")) __builtin_trap();
  } catch (const ConfigError& error) {
    if (error.messages().empty()) __builtin_trap();
    for (const auto& message : error.messages())
      if (!message.starts_with("fuzz.yaml")) __builtin_trap();
  }
  return 0;
}
