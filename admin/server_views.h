// What the admin port's /listeners and /server_info show, built from values the master hands
// over: pure, apart from reading a socket's own address and a file's bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "core/message.h"
#include "core/stats.h"

namespace rpcgate::admin {

// FNV-1a, 64 bits, of `bytes`: a stable fingerprint to tell two config files apart, not a
// cryptographic hash (a file crafted to collide is possible).
uint64_t fnv1a64(std::string_view bytes);

// The FNV-1a 64 of the file at `path` as 16 hex digits, or "" when it cannot be read (or is over
// `max_bytes`: a config file never is, and the master must not stall reading a huge one).
std::string file_fingerprint(const std::string& path, size_t max_bytes = 16u << 20);

// "2026-12-07T09:45:26Z"
std::string utc_time(std::chrono::system_clock::time_point time);

// The address a listening socket is bound to ("127.0.0.1:6380"), or "" when it has none.
std::string bound_address(int fd);

// {"compiler": "GCC 12.2.0", "build_type": "Release", "sanitizers": false}
Json build_json();

struct ListenerView {
  std::string bound;  // the master's socket's own address, "" when the workers bind their own
};

// Every configured listener: name, codec, the configured address and the bound one, and its
// connections open now and requests, summed over the stats slots in `live_slots` (connections
// of a worker that died are not live, even before its slot is reused).
Json listeners_json(const conf::Config& config, const StatsTable& table, const std::vector<ListenerView>& views,
                    const std::vector<size_t>& live_slots);

}  // namespace rpcgate::admin
