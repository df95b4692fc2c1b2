// libFuzzer target for the RESP side of the sharding seam (codecs/resp/resp_sharding.h), which
// reads what a Redis Cluster's nodes send: a COMMAND reply, a CLUSTER SHARDS or CLUSTER SLOTS
// reply, a redirect in a reply, the replies to a split command's parts; and a request frame's
// slot; the masters' replies to a whole-keyspace command (DBSIZE, KEYS, SCAN, RANDOMKEY, INFO...).
// It must not crash or trip a sanitizer; every slot it gives is below 16384 (or "any"); a map holds
// at most one range per slot, each within the slots; a merge appends nothing when it says the
// replies do not fit; a whole-keyspace part goes to one of the masters there are.
//
// Input layout: [what to feed][bytes]. No binary seed is committed: with
// RPCGATE_FUZZ_WRITE_SEED=DIR the target writes its seeds (replies as Redis 7 sends them) there.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/resp/resp_sharding.h"

using rpcgate::codec::Sharding;
using rpcgate::codec::ShardRange;
using rpcgate::codec::ShardRedirect;
using rpcgate::codec::resp::RespSharding;

namespace {

constexpr uint32_t kSlots = 16384;

std::string frame(const std::vector<std::string>& words) {
  std::string out = "*" + std::to_string(words.size()) + "\r\n";
  for (const std::string& word : words) out += "$" + std::to_string(word.size()) + "\r\n" + word + "\r\n";
  return out;
}

void check_slot(uint32_t slot) {
  if (slot != Sharding::kAnyShard && slot >= kSlots) __builtin_trap();
}

void write_seed(const char* dir) {
  const std::string node = "*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$40\r\n" + std::string(40, 'a') + "\r\n";
  const std::vector<std::string> seeds = {
      std::string(1, '\0') +
          "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*0\r\n*0\r\n*0\r\n*0\r\n",
      std::string(1, '\1') + "*1\r\n*3\r\n:0\r\n:16383\r\n" + node,
      std::string(1, '\1') +
          "*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n*4\r\n$2\r\nid\r\n$1\r\nx\r\n$"
          "4\r\nport\r\n:7000\r\n",
      std::string(1, '\2') + "-MOVED 3999 127.0.0.1:6381\r\n",
      std::string(1, '\2') + "-ASK 12 [::1]:7000\r\n",
      std::string(1, '\3') + frame({"MGET", "a", "b"}),
      std::string(1, '\4') + "*1\r\n$1\r\nx\r\n*1\r\n$-1\r\n:1\r\n",
      std::string(1, '\5') + ":3\r\n:0\r\n:12\r\n",
      std::string(1, '\13') + "*1\r\n$1\r\na\r\n*0\r\n*2\r\n$1\r\nb\r\n$1\r\nc\r\n",
      std::string(1, '\21') + "*2\r\n$5\r\n16385\r\n*1\r\n$1\r\nk\r\n",
      std::string(1, '\35') + "$24\r\n# Server\r\nredis_version:7\r\n\r\n$0\r\n\r\n$-1\r\n",
  };
  for (size_t i = 0; i < seeds.size(); ++i) std::ofstream(std::string(dir) + "/seed" + std::to_string(i)) << seeds[i];
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("RPCGATE_FUZZ_WRITE_SEED")) {
    write_seed(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  rpcgate::codec::Limits limits;
  limits.max_elements = 4096;
  limits.max_depth = 16;
  RespSharding sharding(limits);
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string error;
  switch (data[0] % 6) {
    case 0:  // a COMMAND reply, then routing by it
      sharding.read_commands(input, error);
      for (const auto& words : std::vector<std::vector<std::string>>{{"GET", "k"},
                                                                     {"MSET", "a", "1", "b", "2"},
                                                                     {"EVAL", "s", "2", "a", "b"},
                                                                     {"XREAD", "STREAMS", "s", "0"}})
        check_slot(sharding.shard(frame(words)));
      break;
    case 1:  // a slot map, either form
      for (size_t attempt = 0; attempt < 2; ++attempt) {
        std::vector<ShardRange> ranges;
        if (!sharding.read_map(attempt, input, ranges, error)) continue;
        if (ranges.size() > kSlots) __builtin_trap();
        for (const ShardRange& range : ranges)
          if (range.first > range.last || range.last >= kSlots) __builtin_trap();
      }
      break;
    case 2: {  // a redirect
      const ShardRedirect redirect = sharding.redirect(input);
      if (redirect.kind != ShardRedirect::Kind::kNone) check_slot(redirect.shard);
      break;
    }
    case 3:  // a request frame from anyone
      check_slot(sharding.shard(input));
      break;
    case 4: {  // the parts' replies of a split command, cut from the input
      const std::string whole = frame({"MGET", "a", "b", "{a}c", "d"});
      std::vector<std::string> parts;
      std::vector<uint32_t> shards;
      if (!sharding.split(whole, parts, shards) || parts.size() != shards.size()) __builtin_trap();
      for (uint32_t shard : shards) check_slot(shard);
      std::vector<std::string_view> replies;
      size_t at = 0;
      for (size_t i = 0; i < parts.size(); ++i) {
        const size_t length =
            i + 1 < parts.size() ? std::min(input.size() - at, size_t{data[0] / 6u % 16}) : input.size() - at;
        replies.push_back(input.substr(at, length));
        at += length;
      }
      std::string merged;
      if (!sharding.merge(whole, replies, merged) && !merged.empty()) __builtin_trap();
      break;
    }
    case 5: {  // the masters' replies to a whole-keyspace command, cut from the input at each CRLF run
      static const std::vector<std::vector<std::string>> kCommands = {
          {"DBSIZE"}, {"KEYS", "*"}, {"SCAN", "16385", "COUNT", "5"}, {"RANDOMKEY"}, {"INFO"}, {"FLUSHALL"}};
      const std::string whole = frame(kCommands[data[0] / 6u % kCommands.size()]);
      const std::vector<std::string> owners = {"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"};
      rpcgate::codec::WholeKeyspace::Plan plan = sharding.plan(whole, owners.size());
      if (plan.spread == rpcgate::codec::WholeKeyspace::Spread::kNone || plan.owner >= owners.size()) __builtin_trap();
      const size_t count = plan.spread == rpcgate::codec::WholeKeyspace::Spread::kOne ? 1 : owners.size();
      std::vector<std::string_view> replies;
      size_t at = 0;
      for (size_t i = 0; i < count; ++i) {
        size_t end = i + 1 < count ? input.find("\r\n", at) : std::string_view::npos;
        end = end == std::string_view::npos ? input.size() : end + 2;
        replies.push_back(input.substr(at, end - at));
        at = end;
      }
      std::string merged;
      if (!sharding.merge_whole(whole, replies, owners, merged) && !merged.empty()) __builtin_trap();
      break;
    }
  }
  return 0;
}
