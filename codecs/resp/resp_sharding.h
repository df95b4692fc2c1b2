// Redis Cluster through the sharding seam (codecs/sharding.h): a request's slot from the keys
// the cluster's own COMMAND reply says it has, the slot map from CLUSTER SHARDS (CLUSTER SLOTS
// for a Redis before 7), and MOVED/ASK read from a reply. One per cluster per worker.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "codecs/codec_options.h"
#include "codecs/resp/command_keys.h"
#include "codecs/resp/command_reader.h"
#include "codecs/resp/keyspace_commands.h"
#include "codecs/resp/multi_key.h"
#include "codecs/sharding.h"

namespace rpcgate::codec::resp {

// The cluster option that makes a resp cluster's endpoints a Redis Cluster's seeds.
inline constexpr std::string_view kRedisClusterOption = "redis_cluster";
bool redis_cluster(const CodecOptions& options);
// The cluster option that lets replicas serve read-only commands: "master" (the default) or
// "replica_preferred".
inline constexpr std::string_view kReadFromOption = "read_from";
bool reads_from_replicas(const CodecOptions& options);

class RespSharding final : public Sharding, public WholeKeyspace {
 public:
  explicit RespSharding(const Limits& limits);
  // The map names each master's healthy replicas (read_from: replica_preferred); else none.
  void set_with_replicas(bool with) { with_replicas_ = with; }

  uint32_t shards() const override;
  WholeKeyspace* whole_keyspace() override { return this; }
  bool about_whole_keyspace(std::string_view request_frame) const override;
  Plan plan(std::string_view request_frame, size_t owners) override;
  bool merge_whole(std::string_view request_frame, const std::vector<std::string_view>& replies,
                   const std::vector<std::string>& owners, std::string& out) override;
  std::string_view commands_request() const override;
  bool read_commands(std::string_view reply, std::string& error) override;
  bool knows_commands() const override { return table_.size() > 0; }
  const std::vector<std::string>& map_requests() const override { return map_requests_; }
  bool read_map(size_t attempt, std::string_view reply, std::vector<ShardRange>& ranges,
                std::string& error) const override;
  uint32_t shard(std::string_view request_frame) override;
  bool last_read_only() const override;
  bool split(std::string_view request_frame, std::vector<std::string>& parts, std::vector<uint32_t>& shards) override;
  bool merge(std::string_view request_frame, const std::vector<std::string_view>& replies, std::string& out) override;
  ShardRedirect redirect(std::string_view reply_frame) const override;
  std::string_view ask_preface() const override;

 private:
  // Cuts the frame into words_; false for bytes that are not one command.
  bool read_words(std::string_view request_frame);
  // The parts of a splittable command in words_, by slot; none for any other.
  std::vector<Part> slot_parts(MultiKey kind);

  Limits limits_;
  size_t random_turn_ = 0;  // the master RANDOMKEY asks first, in turn
  CommandTable table_;
  CommandReader reader_;
  std::vector<std::string> map_requests_;
  std::vector<std::string_view> words_;  // reused by every shard()
  std::vector<size_t> positions_;
  std::vector<std::string_view> part_words_;
  bool with_replicas_ = false;
};

}  // namespace rpcgate::codec::resp
