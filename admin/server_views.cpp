#include "admin/server_views.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>

namespace rpcgate::admin {

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;  // the FNV-1a 64 offset basis and prime
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string file_fingerprint(const std::string& path, size_t max_bytes) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return "";
  std::string bytes;
  char block[8192];
  while (file.read(block, sizeof block) || file.gcount() > 0) {
    bytes.append(block, static_cast<size_t>(file.gcount()));
    if (bytes.size() > max_bytes) return "";
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(bytes)));
  return hex;
}

std::string utc_time(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

std::string bound_address(int fd) {
  if (fd < 0) return "";
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return "";
  char host[INET6_ADDRSTRLEN] = "";
  if (storage.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
    return std::string("[") + host + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage);
  inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(v4->sin_port));
}

Json build_json() {
#if defined(__clang__)
  std::string compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
  std::string compiler = "GCC " __VERSION__;
#else
  std::string compiler = "unknown";
#endif
#if defined(__SANITIZE_ADDRESS__)
  bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  bool sanitized = true;
#else
  bool sanitized = false;
#endif
#else
  bool sanitized = false;
#endif
  return {{"compiler", compiler},
          {"build_type", RPCGATE_BUILD_TYPE},
          {"cplusplus", static_cast<long>(__cplusplus)},
          {"sanitizers", sanitized}};
}

Json listeners_json(const conf::Config& config, const StatsTable& table, const std::vector<ListenerView>& views,
                    const std::vector<size_t>& live_slots) {
  Json out = Json::array();
  for (size_t i = 0; i < config.listeners.size() && i < Stats::kMaxListeners; ++i) {
    const auto& listener = config.listeners[i];
    uint64_t open = 0;
    for (size_t slot : live_slots)
      if (slot < table.size()) open += table.slot(slot).connections_by_listener[i].get();
    const std::string bound = i < views.size() ? views[i].bound : "";
    out.push_back(
        {{"name", listener.name},
         {"codec", listener.codec},
         {"address", listener.address.to_string()},
         {"bound", bound.empty() ? Json(nullptr) : Json(bound)},
         {"max_connections", listener.max_connections},
         {"connections_active", open},
         {"requests", table.total([i](const Stats& s) -> const Counter& { return s.requests_by_listener[i]; })},
         {"errors", table.total([i](const Stats& s) -> const Counter& { return s.errors_by_listener[i]; })}});
  }
  return out;
}

}  // namespace rpcgate::admin
