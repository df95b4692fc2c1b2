#include "codecs/resp/resp_sharding.h"

#include "codecs/resp/cluster_facade.h"
#include "codecs/resp/cluster_topology.h"
#include "codecs/resp/key_slot.h"
#include "codecs/resp/resp_line.h"
#include "codecs/resp/resp_writer.h"

namespace rpcgate::codec::resp {
namespace {

constexpr std::string_view kCommand = "*1\r\n$7\r\nCOMMAND\r\n";
constexpr std::string_view kAsking = "*1\r\n$6\r\nASKING\r\n";

}  // namespace

bool redis_cluster(const CodecOptions& options) {
  auto found = options.extra.find(std::string(kRedisClusterOption));
  return found != options.extra.end() && found->is_boolean() && found->get<bool>();
}

bool reads_from_replicas(const CodecOptions& options) {
  auto found = options.extra.find(std::string(kReadFromOption));
  return redis_cluster(options) && found != options.extra.end() && found->is_string() &&
         found->get<std::string>() == "replica_preferred";
}

RespSharding::RespSharding(const Limits& limits)
    : limits_(limits),
      reader_(limits),
      map_requests_{"*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n", "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n"} {}

uint32_t RespSharding::shards() const { return kClusterSlots; }

std::string_view RespSharding::commands_request() const { return kCommand; }

std::string_view RespSharding::ask_preface() const { return kAsking; }

bool RespSharding::read_commands(std::string_view reply, std::string& error) { return table_.load(reply, error); }

bool RespSharding::read_map(size_t attempt, std::string_view reply, std::vector<ShardRange>& ranges,
                            std::string& error) const {
  std::vector<SlotRange> slots;
  const bool read = attempt == 0 ? read_cluster_shards(reply, slots, error) : read_cluster_slots(reply, slots, error);
  if (!read) return false;
  // Each range holds a slot of its own: more ranges than slots is a node talking nonsense, and
  // the map it would make is not held.
  if (slots.size() > kClusterSlots) {
    error = "a slot map of " + std::to_string(slots.size()) + " ranges, more than there are slots";
    return false;
  }
  ranges.clear();
  for (const SlotRange& range : slots) {
    ShardRange& shard =
        ranges.emplace_back(ShardRange{range.first, range.last, range.master.host, range.master.port, {}});
    for (const ClusterNode& replica : range.replicas)
      if (with_replicas_ && replica.healthy && !replica.host.empty())
        shard.replicas.push_back({replica.host, replica.port});
  }
  return true;
}

bool RespSharding::read_words(std::string_view request_frame) {
  // The frame was cut whole by a listener's reader or made by our encoder: one read takes it.
  reader_.reset();
  const CommandReader::Result read = reader_.read(request_frame, 0, request_frame.size());
  words_.clear();
  if (read.outcome != CommandReader::Outcome::kFrame) return false;
  for (const ArgSpan& arg : reader_.args()) words_.push_back(request_frame.substr(arg.offset, arg.length));
  return !words_.empty();
}

std::vector<Part> RespSharding::slot_parts(MultiKey kind) {
  if (kind == MultiKey::kNone || key_count(kind, words_) == 0) return {};
  return split_keys(kind, words_, [this, kind](size_t ordinal) { return key_slot(key_at(kind, words_, ordinal)); });
}

bool RespSharding::split(std::string_view request_frame, std::vector<std::string>& parts,
                         std::vector<uint32_t>& shards) {
  // Every request of a sharded cluster is asked: most are no multi-key command, known by their
  // name alone, without reading the frame twice (shard() reads it next).
  if (std::string_view name = command_word(request_frame); !name.empty() && multi_key_kind(name) == MultiKey::kNone)
    return false;
  if (!read_words(request_frame)) return false;
  const MultiKey kind = multi_key_kind(words_[0]);
  const std::vector<Part> cut = slot_parts(kind);
  if (cut.size() < 2) return false;
  for (const Part& part : cut) {
    part_words(kind, words_, part, part_words_);
    std::string& frame = parts.emplace_back();
    append_unsigned_header(frame, '*', part_words_.size());
    for (std::string_view word : part_words_) append_bulk(frame, word);
    shards.push_back(static_cast<uint32_t>(part.group));
  }
  return true;
}

bool RespSharding::merge(std::string_view request_frame, const std::vector<std::string_view>& replies,
                         std::string& out) {
  if (!read_words(request_frame)) return false;
  const MultiKey kind = multi_key_kind(words_[0]);
  return merge_replies(kind, slot_parts(kind), replies, key_count(kind, words_), limits_, out);
}

bool RespSharding::about_whole_keyspace(std::string_view request_frame) const {
  return keyspace_kind_of_frame(request_frame) != Keyspace::kNone;
}

WholeKeyspace::Plan RespSharding::plan(std::string_view request_frame, size_t owners) {
  Plan plan;
  if (!about_whole_keyspace(request_frame) || !read_words(request_frame)) return plan;
  const Keyspace kind = keyspace_kind(words_[0]);
  if (kind == Keyspace::kNone) return plan;
  plan.spread = kind == Keyspace::kScan ? Spread::kOne : Spread::kEvery;
  if (kind == Keyspace::kScan) plan.owner = scan_part(words_, owners, plan.frame);
  return plan;
}

bool RespSharding::merge_whole(std::string_view request_frame, const std::vector<std::string_view>& replies,
                               const std::vector<std::string>& owners, std::string& out) {
  if (!read_words(request_frame)) return false;
  const Keyspace kind = keyspace_kind(words_[0]);
  std::string frame;
  const size_t scanned = kind == Keyspace::kScan ? scan_part(words_, owners.size(), frame) : 0;
  return merge_keyspace(kind, replies, owners, scanned, random_turn_++, out);
}

uint32_t RespSharding::shard(std::string_view request_frame) {
  if (!read_words(request_frame)) return kAnyShard;
  if (const uint32_t slot = ClusterFacade::slot_asked(words_); slot < kClusterSlots) return slot;
  positions_.clear();
  // Unknown commands, words Redis would refuse and key specs no client can follow go anywhere:
  // the node answers its own error, or a MOVED that is followed.
  if (table_.keys(words_, positions_) != CommandTable::Keys::kFound || positions_.empty()) return kAnyShard;
  return key_slot(words_[positions_.front()]);
}

bool RespSharding::last_read_only() const {
  if (words_.empty()) return false;
  const CommandInfo* info = table_.find(words_[0], words_.size() > 1 ? words_[1] : std::string_view());
  return info != nullptr && info->readonly;
}

ShardRedirect RespSharding::redirect(std::string_view reply_frame) const {
  ShardRedirect out;
  if (reply_frame.size() < 3 || reply_frame.front() != '-') return out;
  const Redirect read = read_redirect(reply_frame.substr(1, reply_frame.size() - 3));
  if (read.kind == Redirect::Kind::kNone) return out;
  out.kind = read.kind == Redirect::Kind::kMoved ? ShardRedirect::Kind::kMoved : ShardRedirect::Kind::kAsk;
  out.shard = read.slot;
  out.host = read.host;
  out.port = read.port;
  return out;
}

}  // namespace rpcgate::codec::resp
