// Beside the sharding seam (codecs/sharding.h): the requests about the whole keyspace of a
// sharded protocol (Redis's DBSIZE, KEYS, SCAN, FLUSHALL, FLUSHDB, RANDOMKEY, INFO), which no one
// owner of shards can answer alone. The codec says how such a request is spread over the owners
// and merges their replies into the one a single server would give; backends/ sends the parts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rpcgate::codec {

class WholeKeyspace {
 public:
  enum class Spread : uint8_t {
    kNone,   // not about the whole keyspace: routed as any other request
    kEvery,  // the request itself, to every owner
    kOne,    // `frame` to the `owner`th only (an iteration that goes from one owner to the next)
  };
  struct Plan {
    Spread spread = Spread::kNone;
    size_t owner = 0;
    std::string frame;
  };

  // Whether the request is about the whole keyspace at all: a cheap test asked of every request,
  // before plan() and before the owners are listed.
  virtual bool about_whole_keyspace(std::string_view request_frame) const = 0;
  // `owners`: how many owners of shards the map has. Owners are numbered in the order of their
  // first shard, the same order in every worker while the map is the same.
  virtual Plan plan(std::string_view request_frame, size_t owners) = 0;
  // Appends the reply to the whole request from its parts' replies (kEvery: one per owner, in
  // their order; kOne: its one). `owners` names every owner, in their order. The first reply
  // that is an error answers for the whole. False for replies that do not fit the request.
  virtual bool merge_whole(std::string_view request_frame, const std::vector<std::string_view>& replies,
                           const std::vector<std::string>& owners, std::string& out) = 0;

 protected:
  ~WholeKeyspace() = default;
};

}  // namespace rpcgate::codec
