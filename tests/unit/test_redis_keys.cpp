// Key slots and key positions held against a real redis-server (tests/support/redis_server.h): key_slot against CLUSTER
// KEYSLOT for keys with and without hash tags, and CommandTable, loaded from that server's own COMMAND reply, against
// its COMMAND GETKEYS for generated argument lists of every command and subcommand it lists.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "codecs/resp/command_keys.h"
#include "codecs/resp/key_slot.h"
#include "tests/support/redis_server.h"

namespace {

using rpcgate::codec::resp::CommandTable;
using rpcgate::test::RedisServer;
using rpcgate::test::Reply;

// Every command and subcommand name with its arity, as COMMAND lists them.
void collect_names(const redisReply* entries, std::map<std::string, long long>& names) {
  for (size_t i = 0; i < entries->elements; ++i) {
    const redisReply* entry = entries->element[i];
    names[std::string(entry->element[0]->str, entry->element[0]->len)] = entry->element[1]->integer;
    if (entry->elements > 9 && entry->element[9]->type == REDIS_REPLY_ARRAY) collect_names(entry->element[9], names);
  }
}

}  // namespace

TEST_CASE("key_slot is CLUSTER KEYSLOT, hash tags included") {
  RedisServer redis;
  CHECK(rpcgate::codec::resp::crc16("123456789") == 0x31C3);  // CRC16/XMODEM's check value
  std::mt19937 random(20261207);
  const std::string alphabet = "ab{}{}xyz\x00\xff";
  std::vector<std::string> keys = {"", "{", "}", "{}", "{}a", "a{}", "{a}", "x{a}y", "{a}{b}", "{{a}}", "a{b", "}a{b}"};
  for (int i = 0; i < 500; ++i) {
    std::string key(random() % 12, ' ');
    for (char& c : key) c = alphabet[random() % alphabet.size()];
    keys.push_back(key);
  }
  for (const std::string& key : keys) {
    Reply reply = redis.ask({"CLUSTER", "KEYSLOT", key});
    REQUIRE(reply->type == REDIS_REPLY_INTEGER);
    CAPTURE(key);
    CHECK(rpcgate::codec::resp::key_slot(key) == reply->integer);
  }
}

TEST_CASE("CommandTable finds the keys COMMAND GETKEYS finds, for every command the server lists") {
  RedisServer redis;
  CommandTable table;
  std::string error;
  REQUIRE_MESSAGE(table.load(redis.raw({"COMMAND"}), error), error);
  Reply listing = redis.ask({"COMMAND"});
  std::map<std::string, long long> names;
  collect_names(listing.get(), names);
  CHECK(table.size() == names.size());

  // Words that commands give meaning to, numbers that key counts read, and keys.
  const std::vector<std::string> words = {"k1",   "{t}k2",   "k3",        "STREAMS", "STORE", "BY", "GET",
                                          "KEYS", "WEIGHTS", "0",         "1",       "2",     "3",  "-1",
                                          "$",    "LIMIT",   "STOREDIST", "FROM",    "x"};
  std::mt19937 random(1207);
  int compared = 0, with_keys = 0;
  std::vector<std::string> cannot_tell, differ;
  for (const auto& [name, arity] : names) {
    for (int round = 0; round < 40; ++round) {
      std::vector<std::string> command;
      const size_t bar = name.find('|');
      command.push_back(name.substr(0, bar));
      if (bar != std::string::npos) command.push_back(name.substr(bar + 1));
      const long long least = arity > 0 ? arity : -arity;
      const long long length = arity > 0 ? arity : least + static_cast<long long>(random() % 7);
      while (static_cast<long long>(command.size()) < length) command.push_back(words[random() % words.size()]);
      std::vector<std::string> getkeys = {"COMMAND", "GETKEYS"};
      getkeys.insert(getkeys.end(), command.begin(), command.end());
      Reply expected = redis.ask(getkeys);
      std::vector<std::string_view> views(command.begin(), command.end());
      std::vector<size_t> positions;
      const CommandTable::Keys verdict = table.keys(views, positions, /*only_keys=*/true);
      std::vector<std::string> found;
      for (size_t at : positions) found.push_back(command[at]);
      std::string line;
      for (const std::string& word : command) line += word + " ";
      ++compared;
      if (verdict == CommandTable::Keys::kCannotTell) {
        if (cannot_tell.empty() || cannot_tell.back() != name) cannot_tell.push_back(name);
        continue;
      }
      if (expected->type == REDIS_REPLY_ERROR) {
        // Arguments GETKEYS refuses are routed by whatever keys they have: the node answers as
        // any would (or serves them: GETKEYS of Redis 7.0 refuses a PFMERGE with no source).
        // A command without keys must have none here.
        const bool keyless = std::string(expected->str).find("no key arguments") != std::string::npos;
        if (keyless && !found.empty()) differ.push_back(line + "-> Redis: " + expected->str);
        continue;
      }
      std::vector<std::string> keys;
      for (size_t i = 0; i < expected->elements; ++i)
        keys.emplace_back(expected->element[i]->str, expected->element[i]->len);
      with_keys += !keys.empty();
      // Words Redis refuses (an EVAL whose key count is no number) it lists with no keys.
      const bool alike = verdict == CommandTable::Keys::kInvalid ? keys.empty() : found == keys;
      if (!alike) {
        std::string said;
        for (const std::string& key : keys) said += key + " ";
        differ.push_back(line + "-> Redis: " + said);
      }
    }
  }
  MESSAGE("compared " << compared << " argument lists, " << with_keys
                      << " with keys; cannot tell: " << cannot_tell.size());
  for (const std::string& name : cannot_tell) MESSAGE("cannot tell: " << name);
  for (size_t i = 0; i < differ.size() && i < 40; ++i) MESSAGE("differs: " << differ[i]);
  CHECK(differ.empty());
  CHECK(with_keys > 1000);
}

TEST_CASE("a shard channel is routed like a key, though GETKEYS does not list it") {
  RedisServer redis;
  CommandTable table;
  std::string error;
  REQUIRE_MESSAGE(table.load(redis.raw({"COMMAND"}), error), error);
  std::vector<size_t> positions;
  CHECK(table.keys({"SPUBLISH", "news", "hello"}, positions) == CommandTable::Keys::kFound);
  CHECK(positions == std::vector<size_t>{1});
  positions.clear();
  CHECK(table.keys({"ssubscribe", "a", "b"}, positions) == CommandTable::Keys::kFound);
  CHECK(positions == std::vector<size_t>{1, 2});
  positions.clear();
  CHECK(table.keys({"SPUBLISH", "news", "hello"}, positions, /*only_keys=*/true) == CommandTable::Keys::kFound);
  CHECK(positions.empty());
  CHECK(table.keys({"NOSUCH", "a"}, positions) == CommandTable::Keys::kUnknownCommand);
  CHECK(table.keys({"GET"}, positions) == CommandTable::Keys::kInvalid);
  CHECK(table.keys({"OBJECT", "ENCODING", "k"}, positions) == CommandTable::Keys::kFound);
  CHECK(positions == std::vector<size_t>{2});
  CHECK_FALSE(table.load("*1\r\n:1\r\n", error));
  CHECK(error == "entry 0 of the COMMAND reply is not a command");
  CHECK_FALSE(table.load("-ERR unknown command\r\n", error));
  CHECK(table.size() > 200);  // a failed load keeps the table it had
}
