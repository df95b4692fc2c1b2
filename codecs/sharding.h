// The sharding seam: what backends/ needs to know of a protocol whose servers split the keyspace
// among themselves and say so (Redis Cluster): which shard a request belongs to, how to ask a
// server for the map of shards, and whether an answer sends the request elsewhere. Optional
// beside the client codec (ClientCodec::sharding()), so that no layer above codecs/ names one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/whole_keyspace.h"

namespace rpcgate::codec {

// One run of shards and the server that owns them (its master: the one that takes writes).
struct ShardRange {
  uint32_t first = 0;
  uint32_t last = 0;  // inclusive
  std::string host;   // empty: the server that answered does not know it; the asked one is meant
  uint16_t port = 0;
  // The master's replicas that the answering server calls healthy, by address.
  struct Replica {
    std::string host;
    uint16_t port = 0;
  };
  std::vector<Replica> replicas;
};

// What an answer says about where its request belongs.
struct ShardRedirect {
  enum class Kind : uint8_t {
    kNone,
    kMoved,  // the shard lives elsewhere now, for good: the map is stale
    kAsk,    // this one request goes elsewhere, preceded by ask_preface(); the map stands
  };
  Kind kind = Kind::kNone;
  uint32_t shard = 0;
  std::string host;  // empty: the server that answered
  uint16_t port = 0;
};

class Sharding {
 public:
  // A request that names no shard (no key, or one whose keys this side cannot find): any
  // owner of shards may serve it.
  static constexpr uint32_t kAnyShard = UINT32_MAX;

  // How many shards the keyspace has; every shard() is below it.
  virtual uint32_t shards() const = 0;
  // Its requests about the whole keyspace, spread over every owner (codecs/whole_keyspace.h);
  // null when the protocol has none.
  virtual WholeKeyspace* whole_keyspace() { return nullptr; }

  // The frame that asks a server which commands it knows and where their keys are, and the
  // reading of its answer (the whole reply frame). Until an answer has been read every request
  // is kAnyShard, and redirects correct where it went.
  virtual std::string_view commands_request() const = 0;
  virtual bool read_commands(std::string_view reply, std::string& error) = 0;
  virtual bool knows_commands() const = 0;

  // The frames that ask a server for the map, in the order to try them (a newer form first), and
  // the reading of the answer to the `attempt`th. False, with `error`, for an answer that is not
  // a map (an older server's error for a form it does not know: try the next).
  virtual const std::vector<std::string>& map_requests() const = 0;
  virtual bool read_map(size_t attempt, std::string_view reply, std::vector<ShardRange>& ranges,
                        std::string& error) const = 0;

  // The shard of a request, from its frame as it goes on the wire, or kAnyShard.
  virtual uint32_t shard(std::string_view request_frame) = 0;
  // Whether the request last given to shard() only reads, so that a replica of its shard's owner
  // may serve it (Redis: COMMAND's readonly flag). Asked right after shard(), while its frame lives.
  virtual bool last_read_only() const { return false; }

  // A request that its protocol lets a client split by shard (Redis's MGET, MSET, DEL, UNLINK,
  // EXISTS, TOUCH) and whose keys span shards: the frames of its parts, one per shard in the order
  // of each shard's first key, and their shards. False, with nothing appended, for any other.
  virtual bool split(std::string_view request_frame, std::vector<std::string>& parts,
                     std::vector<uint32_t>& shards) = 0;
  // The reply to the whole request split() cut, from its parts' replies in the parts' order; false
  // for replies that do not fit it.
  virtual bool merge(std::string_view request_frame, const std::vector<std::string_view>& replies,
                     std::string& out) = 0;

  // Whether the reply frame to a request sends it elsewhere.
  virtual ShardRedirect redirect(std::string_view reply_frame) const = 0;
  // Sent just before a request that an ASK redirected, on the same connection; its reply is
  // dropped.
  virtual std::string_view ask_preface() const = 0;

 protected:
  ~Sharding() = default;
};

}  // namespace rpcgate::codec
