// A sharded cluster's request split by shard (codecs/sharding.h, Sharding::split: Redis's MGET,
// MSET, DEL... over keys of several slots): its parts go to their shards' owners side by side,
// each placed, redirected and timed out as a call of its own, and the whole is answered once the
// last part is, with the reply merge() makes of theirs. Or a request about the whole keyspace
// (codecs/whole_keyspace.h: DBSIZE, KEYS, SCAN...), its parts each for one owner named in
// advance, their replies merged by WholeKeyspace::merge_whole().
#pragma once

#include <string>
#include <vector>

#include "core/pending_call.h"

namespace rpcgate::backends {

class Cluster;
class Endpoint;

class Fanout final : public CallOwner {
 public:
  // For a request about the whole keyspace: the owner each part goes to (that one or none: the
  // part fails when it is not usable), and every owner's name, in order.
  struct Spread {
    std::vector<Endpoint*> targets;
    std::vector<std::string> owners;
  };

  // `whole` is submitted to `cluster`, passthrough; its parts' frames are `parts`.
  Fanout(Cluster& cluster, PendingCall* whole, std::vector<std::string> parts, Spread spread = {});
  ~Fanout();
  Fanout(const Fanout&) = delete;
  Fanout& operator=(const Fanout&) = delete;

  // Submits every part. The whole may be finished before it returns (every part refused at once).
  void start();
  // The whole's owner is going: every part still out is cancelled and freed.
  void cancel();

  void on_call_done(PendingCall* part) override;

 private:
  // Every part is in: the whole is answered (its owner told, unless it was all over during
  // start()), and this object freed.
  void finish(bool notify);

  Cluster& cluster_;
  PendingCall* whole_;
  std::vector<PendingCall*> parts_;
  Spread spread_;            // its targets only until start()
  size_t left_ = 0;          // parts not answered yet
  std::vector<bool> heard_;  // per part: its answer was told (on_call_done)
  bool starting_ = false;
};

}  // namespace rpcgate::backends
