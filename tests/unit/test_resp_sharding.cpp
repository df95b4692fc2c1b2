// The RESP side of the sharding seam (codecs/resp/resp_sharding.h) against a real cluster-enabled
// redis-server: a request frame's slot is CLUSTER KEYSLOT of its first key once the server's
// COMMAND reply is read (and kAnyShard before, or for no key), the slot map from its own CLUSTER
// SHARDS and CLUSTER SLOTS, and MOVED/ASK read from reply frames.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "codecs/resp/resp_codec.h"
#include "codecs/resp/resp_sharding.h"
#include "tests/support/redis_server.h"

namespace {

using rpcgate::codec::Sharding;
using rpcgate::codec::ShardRange;
using rpcgate::codec::ShardRedirect;
using rpcgate::codec::resp::RespSharding;
using rpcgate::test::RedisServer;

std::string frame(const std::vector<std::string>& words) {
  std::string out = "*" + std::to_string(words.size()) + "\r\n";
  for (const std::string& word : words) out += "$" + std::to_string(word.size()) + "\r\n" + word + "\r\n";
  return out;
}

}  // namespace

TEST_CASE("RespSharding: a request's slot is its first key's, from the server's own COMMAND") {
  RedisServer redis;
  RespSharding sharding(rpcgate::codec::Limits{});
  CHECK(sharding.shards() == 16384);
  CHECK_FALSE(sharding.knows_commands());
  CHECK(sharding.shard(frame({"GET", "a"})) == Sharding::kAnyShard);  // nothing known yet

  std::string error;
  REQUIRE(sharding.read_commands(redis.raw({"COMMAND"}), error));
  CHECK(sharding.knows_commands());
  for (const std::vector<std::string>& words :
       std::vector<std::vector<std::string>>{{"GET", "a"},
                                             {"set", "user:1000", "x"},
                                             {"MGET", "{tag}one", "{tag}two"},
                                             {"MSET", "k1", "v", "k2", "v"},
                                             {"HSET", "{h}", "f", "v"},
                                             {"EVAL", "return 1", "1", "script-key"},
                                             {"XREAD", "STREAMS", "stream", "0"},
                                             {"SPUBLISH", "channel", "m"},
                                             {"ZUNIONSTORE", "dest{t}", "2", "a{t}", "b{t}"}}) {
    CAPTURE(words[0]);
    std::vector<std::string> getkeys = {"COMMAND", "GETKEYS"};
    getkeys.insert(getkeys.end(), words.begin(), words.end());
    rpcgate::test::Reply keys = redis.ask(getkeys);
    std::string first_key =
        words[0] == "SPUBLISH" ? words[1] : std::string(keys->element[0]->str, keys->element[0]->len);
    rpcgate::test::Reply slot = redis.ask({"CLUSTER", "KEYSLOT", first_key});
    CHECK(sharding.shard(frame(words)) == static_cast<uint32_t>(slot->integer));
  }
  // No key, an unknown command, or words Redis would refuse: anywhere.
  CHECK(sharding.shard(frame({"PING"})) == Sharding::kAnyShard);
  CHECK(sharding.shard(frame({"NOSUCHCOMMAND", "a"})) == Sharding::kAnyShard);
  CHECK(sharding.shard(frame({"GET"})) == Sharding::kAnyShard);
  CHECK(sharding.shard("not a frame") == Sharding::kAnyShard);
  CHECK(sharding.shard("") == Sharding::kAnyShard);
}

TEST_CASE("RespSharding: the slot map from CLUSTER SHARDS, or CLUSTER SLOTS") {
  RedisServer redis;
  REQUIRE(redis.text({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}) == "OK");
  RespSharding sharding(rpcgate::codec::Limits{});
  REQUIRE(sharding.map_requests().size() == 2);
  CHECK(sharding.map_requests()[0] == frame({"CLUSTER", "SHARDS"}));
  CHECK(sharding.map_requests()[1] == frame({"CLUSTER", "SLOTS"}));
  for (size_t attempt = 0; attempt < 2; ++attempt) {
    CAPTURE(attempt);
    std::vector<ShardRange> ranges;
    std::string error;
    const std::vector<std::string> words =
        attempt == 0 ? std::vector<std::string>{"CLUSTER", "SHARDS"} : std::vector<std::string>{"CLUSTER", "SLOTS"};
    REQUIRE_MESSAGE(sharding.read_map(attempt, redis.raw(words), ranges, error), error);
    REQUIRE(ranges.size() == 1);
    CHECK(ranges[0].first == 0);
    CHECK(ranges[0].last == 16383);
    CHECK(ranges[0].port == redis.port());
  }
  // An older server's error for the newer question: not a map, so the caller asks the older one.
  std::vector<ShardRange> ranges;
  std::string error;
  CHECK_FALSE(sharding.read_map(0, "-ERR unknown subcommand 'SHARDS'\r\n", ranges, error));
  CHECK_FALSE(error.empty());
}

TEST_CASE("RespSharding: MOVED and ASK in a reply frame, nothing in any other") {
  RespSharding sharding(rpcgate::codec::Limits{});
  ShardRedirect moved = sharding.redirect("-MOVED 3999 127.0.0.1:6381\r\n");
  CHECK(moved.kind == ShardRedirect::Kind::kMoved);
  CHECK(moved.shard == 3999);
  CHECK(moved.host == "127.0.0.1");
  CHECK(moved.port == 6381);
  ShardRedirect ask = sharding.redirect("-ASK 12 :7000\r\n");
  CHECK(ask.kind == ShardRedirect::Kind::kAsk);
  CHECK(ask.host.empty());  // the node does not know its address: the one that answered
  CHECK(ask.port == 7000);
  for (const char* other :
       {"-ERR MOVED\r\n", "+MOVED 1 1.2.3.4:5\r\n", "$5\r\nMOVED\r\n", "-MOVED 16384 h:1\r\n", "-", ""})
    CHECK(sharding.redirect(other).kind == ShardRedirect::Kind::kNone);
  CHECK(sharding.ask_preface() == frame({"ASKING"}));
}

TEST_CASE("redis_cluster: true gives the resp client codec its sharding") {
  rpcgate::codec::CodecOptions options;
  CHECK(rpcgate::codec::resp::make_client_codec(options)->sharding() == nullptr);
  options.extra["redis_cluster"] = true;
  CHECK(rpcgate::codec::resp::make_client_codec(options)->sharding() != nullptr);
}

TEST_CASE("RespSharding: MGET, MSET and DEL over several slots split by slot, their replies merged") {
  RedisServer redis;
  REQUIRE(redis.text({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}) == "OK");
  // A node serves its slots once it says the cluster is ok (at once alone, after its next cron).
  bool ok = false;
  for (int i = 0; i < 500 && !ok; ++i) {
    ok = redis.text({"CLUSTER", "INFO"}).find("cluster_state:ok") != std::string::npos;
    if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(ok);
  RespSharding sharding(rpcgate::codec::Limits{});
  std::vector<std::string> parts;
  std::vector<uint32_t> shards;
  // One slot (a hash tag), or a command that is not split: whole.
  CHECK_FALSE(sharding.split(frame({"MGET", "{t}a", "{t}b"}), parts, shards));
  CHECK_FALSE(sharding.split(frame({"SUNIONSTORE", "a", "b", "c"}), parts, shards));
  CHECK_FALSE(sharding.split(frame({"MSET", "a", "1", "b"}), parts, shards));  // Redis refuses it whole
  CHECK(parts.empty());

  // Each part asked of the one node holding every slot answers as the cluster's owner would.
  auto answer = [&](const std::vector<std::string>& whole) {
    parts.clear();
    shards.clear();
    REQUIRE(sharding.split(frame(whole), parts, shards));
    std::vector<std::string> replies;
    for (const std::string& part : parts) {
      std::vector<std::string> words;
      size_t at = part.find("\r\n") + 2;
      while (at < part.size()) {
        const size_t end = part.find("\r\n", at);
        const size_t length = std::stoul(part.substr(at + 1, end - at - 1));
        words.push_back(part.substr(end + 2, length));
        at = end + 2 + length + 2;
      }
      rpcgate::test::Reply slot = redis.ask({"CLUSTER", "KEYSLOT", words[1]});
      CHECK(shards[replies.size()] == static_cast<uint32_t>(slot->integer));
      replies.push_back(redis.raw(words));
    }
    std::vector<std::string_view> views(replies.begin(), replies.end());
    std::string merged;
    REQUIRE(sharding.merge(frame(whole), views, merged));
    return merged;
  };
  CHECK(answer({"MSET", "a", "1", "b", "2", "{a}c", "3"}) == "+OK\r\n");
  CHECK(parts.size() == 2);  // a and {a}c share a slot
  CHECK(answer({"MGET", "b", "a", "missing", "{a}c"}) == "*4\r\n$1\r\n2\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n");
  CHECK(answer({"EXISTS", "a", "b", "a", "missing"}) == ":3\r\n");
  CHECK(answer({"DEL", "a", "b", "missing"}) == ":2\r\n");
  // The name in any case; a command that is no multi-key one is known by its name alone.
  CHECK(sharding.split(frame({"mget", "a", "b"}), parts, shards));
  CHECK_FALSE(sharding.split(frame({"GET", "a"}), parts, shards));
  CHECK_FALSE(sharding.split(frame({"UNLINKX", "a", "b"}), parts, shards));
}

TEST_CASE("RespSharding: whether the request last given to shard() only reads, from COMMAND's flags") {
  RedisServer redis;
  RespSharding sharding(rpcgate::codec::Limits{});
  std::string error;
  REQUIRE(sharding.read_commands(redis.raw({"COMMAND"}), error));
  auto read_only = [&](const std::vector<std::string>& words) {
    const std::string request = frame(words);  // alive until asked: the answer reads its words
    sharding.shard(request);
    return sharding.last_read_only();
  };
  CHECK(read_only({"GET", "a"}));
  CHECK(read_only({"mget", "a", "b"}));
  CHECK(read_only({"HGETALL", "h"}));
  CHECK(read_only({"XRANGE", "s", "-", "+"}));
  CHECK_FALSE(read_only({"SET", "a", "b"}));
  CHECK_FALSE(read_only({"INCR", "a"}));
  CHECK_FALSE(read_only({"BLPOP", "q", "0"}));
  CHECK_FALSE(read_only({"EVAL", "return 1", "1", "k"}));  // a script may write
  CHECK_FALSE(read_only({"NOSUCHCOMMAND", "a"}));
}
