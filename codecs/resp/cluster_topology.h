// A Redis Cluster's slot map as its nodes describe it (CLUSTER SHARDS of Redis 7, or CLUSTER SLOTS
// of older ones), and the redirects a node answers for a slot it does not serve (MOVED, ASK).
// Pure: reply bytes or an error's text in, plain values out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rpcgate::codec::resp {

struct ClusterNode {
  std::string id;
  std::string host;  // as the cluster announces it; empty when it does not know ("?" or "")
  uint16_t port = 0;
  bool healthy = true;  // CLUSTER SHARDS' health "online" (CLUSTER SLOTS lists no other)
};

struct SlotRange {
  uint16_t first = 0;
  uint16_t last = 0;  // inclusive
  ClusterNode master;
  std::vector<ClusterNode> replicas;
};

// The ranges of a CLUSTER SHARDS or CLUSTER SLOTS reply, sorted by slot. False, with `error`, for
// anything that is not one (an error reply's text included, so that the caller can fall back).
bool read_cluster_shards(std::string_view reply, std::vector<SlotRange>& ranges, std::string& error);
bool read_cluster_slots(std::string_view reply, std::vector<SlotRange>& ranges, std::string& error);

struct Redirect {
  enum class Kind : uint8_t { kNone, kMoved, kAsk };
  Kind kind = Kind::kNone;
  uint16_t slot = 0;
  std::string host;
  uint16_t port = 0;
};

// An error reply's text ("MOVED 3999 127.0.0.1:6381", without the '-') as a redirect; kNone for
// any other error.
Redirect read_redirect(std::string_view error);

}  // namespace rpcgate::codec::resp
