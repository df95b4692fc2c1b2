// What a RESP listener in front of a Redis Cluster shows a client that insists on cluster mode
// (redis-py's RedisCluster, redis-cli -c, Jedis, Lettuce): a cluster of one node, the listener
// itself at the address the client reached it by, owning every slot. Such a client then sends
// everything to rpcgate, which routes it as it routes a plain client's commands. The topology
// commands (CLUSTER SLOTS, SHARDS, NODES, INFO, MYID...) are answered in the shapes Redis 7 gives,
// and the connection settings of cluster mode (READONLY, READWRITE, ASKING, SELECT) as a node of
// it answers them. Pure: words in, reply bytes out.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/message.h"

namespace rpcgate::codec::resp {

class ClusterFacade {
 public:
  // True when the command (its name lower-cased, and its words) is answered here. The other
  // CLUSTER subcommands go to a master: KEYSLOT and HELP answer the same anywhere,
  // COUNTKEYSINSLOT and GETKEYSINSLOT go to their slot's master, an unknown one gets the node's
  // own error; those that change the cluster (MEET, ADDSLOTS, SETSLOT, FAILOVER...) are refused.
  static bool answers(std::string_view name, std::span<const std::string_view> argv);

  // CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT name a slot, which only its master can count: that
  // slot, for `words` that are one of them; kClusterSlots for any other.
  static uint32_t slot_asked(const std::vector<std::string_view>& words);

  // The address the client connected to (the listener's, as the client's socket sees it). Its
  // port also makes the node id, stable for the listener across connections and restarts.
  void set_address(std::string_view host, uint16_t port);

  // Fills `reply` (cleared by the caller) in the protocol the client speaks now (2 or 3).
  void answer(std::string_view name, std::span<const std::string_view> argv, int protocol, Response& reply) const;

 private:
  void cluster(std::span<const std::string_view> argv, int protocol, Response& reply) const;
  std::string slots(int protocol) const;
  std::string shards(int protocol) const;
  std::string nodes() const;

  std::string host_ = "127.0.0.1";
  uint16_t port_ = 0;
  std::string id_;
};

}  // namespace rpcgate::codec::resp
