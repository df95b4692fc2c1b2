// Small helpers of the typed configuration: how an origin and an address print in messages.
#include "conf/config.h"

namespace rpcgate::conf {

std::string Origin::describe() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line);
}

std::string Address::to_string() const {
  // An IPv6 literal holds colons, so it needs brackets to keep the port readable.
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Origin Config::origin_of(std::string_view key_path) const {
  if (auto it = origins.find(key_path); it != origins.end()) return it->second;
  return Origin{path, 0};
}

}  // namespace rpcgate::conf
