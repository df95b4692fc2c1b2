// Multi-key commands split by slot and their replies merged, against two real redis-servers that
// hold the same data: one runs each generated command whole, the other runs its parts, and the
// merged reply must be the whole one's, byte for byte, and leave the same data behind.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "codecs/resp/key_slot.h"
#include "codecs/resp/multi_key.h"
#include "tests/support/redis_server.h"

namespace {

using namespace rpcgate::codec::resp;
using rpcgate::test::RedisServer;

std::vector<std::string> owned(const std::vector<std::string_view>& words) { return {words.begin(), words.end()}; }

}  // namespace

TEST_CASE("split by slot and merged, every multi-key command answers as the whole command does") {
  RedisServer whole(RedisServer::Mode::kStandalone), parted(RedisServer::Mode::kStandalone);
  std::mt19937 random(7);
  std::vector<std::string> keys;
  for (int i = 0; i < 16; ++i) keys.push_back(i % 4 == 0 ? "{tag}" + std::to_string(i) : "key" + std::to_string(i));
  for (RedisServer* server : {&whole, &parted}) {
    for (size_t i = 0; i < keys.size(); i += 3) server->ask({"SET", keys[i], "value" + std::to_string(i)});
    server->ask({"RPUSH", keys[1], "a list, which MGET reads as nil"});
  }
  const std::vector<std::string> commands = {"MGET", "mset", "DEL", "unlink", "EXISTS", "TOUCH"};
  const rpcgate::codec::Limits limits;
  int split = 0;
  for (int round = 0; round < 400; ++round) {
    const std::string& command = commands[random() % commands.size()];
    const MultiKey kind = multi_key_kind(command);
    REQUIRE(kind != MultiKey::kNone);
    std::vector<std::string> words = {command};
    const size_t count = 1 + random() % 8;
    for (size_t i = 0; i < count; ++i) {
      words.push_back(keys[random() % keys.size()]);  // repeats included
      if (kind == MultiKey::kMset) words.push_back("v" + std::to_string(random() % 100));
    }
    const std::vector<std::string_view> views(words.begin(), words.end());
    CAPTURE(words);
    REQUIRE(key_count(kind, views) == count);
    const std::vector<Part> parts =
        split_keys(kind, views, [&](size_t ordinal) { return key_slot(key_at(kind, views, ordinal)); });
    split += parts.size() > 1;
    std::vector<std::string> replies;
    std::vector<std::string_view> part;
    for (const Part& p : parts) {
      part_words(kind, views, p, part);
      replies.push_back(parted.raw(owned(part)));
    }
    const std::vector<std::string_view> reply_views(replies.begin(), replies.end());
    std::string merged;
    REQUIRE(merge_replies(kind, parts, reply_views, count, limits, merged));
    CHECK(merged == whole.raw(words));
  }
  CHECK(split > 300);
  for (const std::string& key : keys) CHECK(whole.raw({"DUMP", key}) == parted.raw({"DUMP", key}));
}

TEST_CASE("what is not split, and replies that do not fit") {
  std::vector<std::string_view> odd = {"MSET", "k", "v", "lonely"};
  CHECK(key_count(MultiKey::kMset, odd) == 0);
  CHECK(key_count(MultiKey::kMget, {"MGET"}) == 0);
  CHECK(multi_key_kind("get") == MultiKey::kNone);
  CHECK(multi_key_kind("MGETX") == MultiKey::kNone);
  const rpcgate::codec::Limits limits;
  const std::vector<Part> two = {{0, {0}}, {1, {1}}};
  std::string out;
  CHECK_FALSE(
      merge_replies(MultiKey::kMget, two, {"*1\r\n$1\r\na\r\n", "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"}, 2, limits, out));
  CHECK_FALSE(merge_replies(MultiKey::kMget, two, {"*1\r\n$1\r\na\r\n", "*1\r\n$5\r\nb\r\n"}, 2, limits, out));
  CHECK_FALSE(merge_replies(MultiKey::kCount, two, {":1\r\n", "+OK\r\n"}, 2, limits, out));
  CHECK_FALSE(merge_replies(MultiKey::kMset, two, {"+OK\r\n", ":1\r\n"}, 2, limits, out));
  CHECK(out.empty());
  CHECK(merge_replies(MultiKey::kCount, two, {":1\r\n", "-ERR no\r\n"}, 2, limits, out));
  CHECK(out == "-ERR no\r\n");
}
