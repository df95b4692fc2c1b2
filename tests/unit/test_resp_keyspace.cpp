// The whole-keyspace commands of a Redis Cluster (codecs/resp/keyspace_commands.h, through
// RespSharding's WholeKeyspace) and the one-node cluster a listener shows cluster-aware clients
// (codecs/resp/cluster_facade.h), held against real cluster-enabled redis-servers: two nodes
// stand for two masters, their own replies are merged, and the merged answers are compared with
// a standalone Redis holding the same keys; the facade's replies are compared with a real
// one-node cluster's, and read back by rpcgate's own reader of slot maps.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "codecs/resp/cluster_facade.h"
#include "codecs/resp/cluster_topology.h"
#include "codecs/resp/reply_tree.h"
#include "codecs/resp/resp_encoder.h"
#include "codecs/resp/resp_sharding.h"
#include "codecs/resp/resp_writer.h"
#include "tests/support/redis_server.h"

namespace {

using rpcgate::Response;
using rpcgate::codec::WholeKeyspace;
using rpcgate::codec::resp::ClusterFacade;
using rpcgate::codec::resp::RespSharding;
using rpcgate::test::RedisServer;

std::string frame(const std::vector<std::string>& words) {
  std::string out;
  rpcgate::codec::resp::append_unsigned_header(out, '*', words.size());
  for (const std::string& word : words) rpcgate::codec::resp::append_bulk(out, word);
  return out;
}

// The words of a request frame (the parts RespSharding makes are arrays of bulk strings).
std::vector<std::string> words_of(const std::string& request) {
  std::string error;
  rpcgate::codec::resp::ReplyTree tree = rpcgate::codec::resp::read_reply_tree(request, error);
  REQUIRE(tree != nullptr);
  std::vector<std::string> words;
  for (size_t i = 0; i < tree->elements; ++i) words.emplace_back(tree->element[i]->str, tree->element[i]->len);
  return words;
}

// A node given every slot takes commands once it says its cluster is ok.
void own_every_slot(RedisServer& node) {
  REQUIRE(node.text({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}) == "OK");
  bool ok = false;
  for (int i = 0; i < 500 && !ok; ++i) {
    ok = node.text({"CLUSTER", "INFO"}).find("cluster_state:ok") != std::string::npos;
    if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(ok);
}

// Two masters of the whole keyspace: two cluster-enabled nodes, each owning every slot of its own.
struct TwoMasters {
  RedisServer a;
  RedisServer b;
  RedisServer single{RedisServer::Mode::kStandalone};  // the one Redis the answers are compared with
  RespSharding sharding{rpcgate::codec::Limits{}};
  std::vector<std::string> names;

  TwoMasters() {
    own_every_slot(a);
    own_every_slot(b);
    names = {"127.0.0.1:" + std::to_string(a.port()), "127.0.0.1:" + std::to_string(b.port())};
  }
  RedisServer& master(size_t i) { return i == 0 ? a : b; }

  // The request as rpcgate answers it: planned, its parts answered by the masters, merged.
  std::string through(const std::vector<std::string>& words) {
    const std::string request = frame(words);
    WholeKeyspace::Plan plan = sharding.plan(request, 2);
    REQUIRE(plan.spread != WholeKeyspace::Spread::kNone);
    std::vector<std::string> replies;
    if (plan.spread == WholeKeyspace::Spread::kOne) {
      replies.push_back(master(plan.owner).raw(words_of(plan.frame)));
    } else {
      for (size_t i = 0; i < 2; ++i) replies.push_back(master(i).raw(words));
    }
    std::vector<std::string_view> views(replies.begin(), replies.end());
    std::string out;
    REQUIRE(sharding.merge_whole(request, views, names, out));
    return out;
  }
};

std::set<std::string> elements(const std::string& reply) {
  std::string error;
  rpcgate::codec::resp::ReplyTree tree = rpcgate::codec::resp::read_reply_tree(reply, error);
  REQUIRE_MESSAGE(tree != nullptr, error);
  std::set<std::string> out;
  for (size_t i = 0; i < tree->elements; ++i) out.emplace(tree->element[i]->str, tree->element[i]->len);
  return out;
}

}  // namespace

TEST_CASE("whole keyspace: DBSIZE, KEYS, FLUSHALL and RANDOMKEY over two masters answer as one Redis") {
  TwoMasters masters;
  CHECK(masters.sharding.plan(frame({"GET", "a"}), 2).spread == WholeKeyspace::Spread::kNone);
  CHECK(masters.sharding.plan(frame({"dbsize"}), 2).spread == WholeKeyspace::Spread::kEvery);
  CHECK(masters.sharding.plan("*1\r\n$6\r\nDBSIZE\r\n", 2).spread == WholeKeyspace::Spread::kEvery);
  for (std::string_view bad : {"", "*", "*1\r\n", "*1\r\n$6\r\nDBS", "*0\r\n", "+DBSIZE\r\n", "*1\r\n$-1\r\n"})
    CHECK(masters.sharding.plan(bad, 2).spread == WholeKeyspace::Spread::kNone);
  CHECK(masters.through({"RANDOMKEY"}) == masters.single.raw({"RANDOMKEY"}));  // every master empty: nil
  for (int i = 0; i < 30; ++i) {
    const std::string key = "key:" + std::to_string(i);
    masters.master(i % 3 == 0 ? 0 : 1).text({"SET", key, "v"});
    masters.single.text({"SET", key, "v"});
  }
  CHECK(masters.through({"DBSIZE"}) == masters.single.raw({"DBSIZE"}));
  CHECK(masters.through({"DBSIZE"}) == ":30\r\n");
  for (const char* pattern : {"*", "key:1*", "nothing*"}) {
    CAPTURE(pattern);
    const std::string keys = masters.through({"KEYS", pattern});
    CHECK(elements(keys) == elements(masters.single.raw({"KEYS", pattern})));
    CHECK(keys.substr(0, keys.find('\r')) == masters.single.raw({"KEYS", pattern}).substr(0, keys.find('\r')));
  }
  // A node's error answers for all, byte for byte: arity, syntax.
  CHECK(masters.through({"KEYS"}) == masters.single.raw({"KEYS"}));
  CHECK(masters.through({"DBSIZE", "x"}) == masters.single.raw({"DBSIZE", "x"}));
  CHECK(masters.through({"FLUSHALL", "FOO"}) == masters.single.raw({"FLUSHALL", "FOO"}));
  // RANDOMKEY: a key of some master, the first ones in turn; an empty master is passed over.
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) seen.insert(masters.through({"RANDOMKEY"}));
  CHECK(std::all_of(seen.begin(), seen.end(),
                    [](const std::string& reply) { return reply.find("key:") != std::string::npos; }));
  masters.a.text({"FLUSHALL"});
  for (int i = 0; i < 4; ++i) CHECK(masters.through({"RANDOMKEY"}).find("key:") != std::string::npos);
  CHECK(masters.through({"FLUSHDB", "ASYNC"}) == "+OK\r\n");
  CHECK(masters.through({"DBSIZE"}) == ":0\r\n");
}

TEST_CASE("whole keyspace: SCAN goes master after master, its cursor naming the master; every key seen once") {
  TwoMasters masters;
  for (int i = 0; i < 200; ++i) {
    const std::string key = (i % 2 == 0 ? "even:" : "odd:") + std::to_string(i);
    masters.master(i % 5 == 0 ? 0 : 1).text({"SET", key, "v"});
    if (i % 7 == 0) masters.master(i % 5 == 0 ? 0 : 1).text({"RPUSH", "list:" + std::to_string(i), "x"});
  }
  for (const std::vector<std::string>& options : std::vector<std::vector<std::string>>{
           {}, {"COUNT", "7"}, {"MATCH", "even:*", "COUNT", "20"}, {"TYPE", "list"}}) {
    CAPTURE(options.size());
    std::multiset<std::string> seen;
    std::set<uint64_t> masters_seen;
    std::string cursor = "0";
    for (int calls = 0; calls < 1000; ++calls) {
      std::vector<std::string> words = {"SCAN", cursor};
      words.insert(words.end(), options.begin(), options.end());
      const std::string reply = masters.through(words);
      std::string error;
      rpcgate::codec::resp::ReplyTree tree = rpcgate::codec::resp::read_reply_tree(reply, error);
      REQUIRE_MESSAGE(tree != nullptr, error);
      REQUIRE(tree->elements == 2);
      cursor.assign(tree->element[0]->str, tree->element[0]->len);
      for (size_t i = 0; i < tree->element[1]->elements; ++i)
        seen.emplace(tree->element[1]->element[i]->str, tree->element[1]->element[i]->len);
      masters_seen.insert(std::stoull(cursor) & ((1u << rpcgate::codec::resp::kOwnerBits) - 1));
      if (cursor == "0") break;
    }
    CHECK(cursor == "0");
    CHECK(masters_seen.count(1) == 1);  // the second master's keys were asked for
    std::multiset<std::string> expected;
    const bool lists_only = !options.empty() && options[0] == "TYPE";
    const std::string pattern = !options.empty() && options[0] == "MATCH" ? options[1] : "*";
    for (int master = 0; master < 2; ++master)
      for (const std::string& key : elements(masters.master(master).raw({"KEYS", pattern})))
        if (!lists_only || key.starts_with("list:")) expected.insert(key);
    CHECK_FALSE(expected.empty());
    CHECK(seen == expected);
  }
  // Cursors rpcgate cannot place: Redis's own refusal, from the first master.
  CHECK(masters.through({"SCAN", "abc"}) == masters.single.raw({"SCAN", "abc"}));
  CHECK(masters.through({"SCAN", "3"}) == "-ERR invalid cursor\r\n");  // a third master
  CHECK(masters.through({"SCAN", "0", "COUNT", "0"}) == masters.single.raw({"SCAN", "0", "COUNT", "0"}));
}

TEST_CASE("whole keyspace: INFO gives each master's sections, named with the master") {
  TwoMasters masters;
  const std::string info = masters.through({"INFO", "cluster"});
  std::string error;
  rpcgate::codec::resp::ReplyTree tree = rpcgate::codec::resp::read_reply_tree(info, error);
  REQUIRE(tree != nullptr);
  const std::string text(tree->str, tree->len);
  CHECK(text == "# Cluster " + masters.names[0] + "\r\ncluster_enabled:1\r\n\r\n# Cluster " + masters.names[1] +
                    "\r\ncluster_enabled:1\r\n");
  const std::string all = masters.through({"INFO"});
  for (const std::string& name : masters.names) CHECK(all.find("# Keyspace " + name + "\r\n") != std::string::npos);
}

TEST_CASE("cluster facade: CLUSTER SLOTS, SHARDS, NODES and MYID as a real one-node cluster answers them") {
  RedisServer node;
  own_every_slot(node);
  ClusterFacade facade;
  facade.set_address("127.0.0.1", node.port());
  auto answer = [&](const std::vector<std::string>& words, int protocol = 2) {
    std::vector<std::string_view> argv(words.begin(), words.end());
    std::string name = words[0];
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    REQUIRE(ClusterFacade::answers(name, argv));
    Response reply;
    facade.answer(name, argv, protocol, reply);
    rpcgate::codec::resp::RespEncoder encoder;
    encoder.set_protocol(protocol);
    std::string out;
    encoder.encode_response(reply, out);
    return out;
  };
  const std::string id = answer({"CLUSTER", "MYID"}).substr(5, 40);
  CHECK(id.size() == 40);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  const std::string real_id = node.text({"CLUSTER", "MYID"});
  auto ours = [&](std::string reply) {  // the real node's reply with our id in place of its own
    for (size_t at = reply.find(real_id); at != std::string::npos; at = reply.find(real_id))
      reply.replace(at, real_id.size(), id);
    return reply;
  };
  // A lone node does not know its own address ("" in SLOTS): rpcgate names the one the client used.
  std::string slots = ours(node.raw({"CLUSTER", "SLOTS"}));
  if (slots.find("$0\r\n\r\n") != std::string::npos) slots.replace(slots.find("$0\r\n\r\n"), 6, "$9\r\n127.0.0.1\r\n");
  CHECK(answer({"CLUSTER", "SLOTS"}) == slots);
  std::string shards = ours(node.raw({"CLUSTER", "SHARDS"}));
  CHECK(answer({"CLUSTER", "SHARDS"}).size() ==
        shards.size() + (shards.find("$0\r\n\r\n") != std::string::npos ? 18 : 0));
  // rpcgate's own reader of a cluster's maps reads them as a map of one master, the listener.
  for (const std::vector<std::string>& words :
       std::vector<std::vector<std::string>>{{"CLUSTER", "SLOTS"}, {"CLUSTER", "SHARDS"}}) {
    std::vector<rpcgate::codec::resp::SlotRange> ranges;
    std::string error;
    const bool read = words[1] == "SLOTS" ? rpcgate::codec::resp::read_cluster_slots(answer(words), ranges, error)
                                          : rpcgate::codec::resp::read_cluster_shards(answer(words), ranges, error);
    REQUIRE_MESSAGE(read, error);
    REQUIRE(ranges.size() == 1);
    CHECK(ranges[0].first == 0);
    CHECK(ranges[0].last == 16383);
    CHECK(ranges[0].master.host == "127.0.0.1");
    CHECK(ranges[0].master.port == node.port());
  }
  // NODES: the same fields as the real node's own line, its flags and slots.
  std::string nodes = answer({"CLUSTER", "NODES"});
  std::string real_nodes = node.raw({"CLUSTER", "NODES"});
  auto fields = [](const std::string& reply) {
    std::string line = reply.substr(reply.find("\r\n") + 2);
    line = line.substr(0, line.find('\n'));
    std::vector<std::string> out;
    for (size_t at = 0; at <= line.size();) {
      size_t end = std::min(line.find(' ', at), line.size());
      out.push_back(line.substr(at, end - at));
      at = end + 1;
    }
    return out;
  };
  REQUIRE(fields(nodes).size() == fields(real_nodes).size());
  CHECK(fields(nodes)[0] == id);
  CHECK(fields(nodes)[1] == "127.0.0.1:" + std::to_string(node.port()) + "@0");
  for (size_t i : {2u, 3u, 7u, 8u}) CHECK(fields(nodes)[i] == fields(real_nodes)[i]);  // flags, master, link, slots
  // CLUSTER INFO: every field a client reads, as the real node names them.
  const std::string info = answer({"CLUSTER", "INFO"});
  for (const char* field : {"cluster_state:ok\r\n", "cluster_slots_assigned:16384\r\n", "cluster_slots_ok:16384\r\n",
                            "cluster_known_nodes:1\r\n", "cluster_size:1\r\n"}) {
    CHECK(info.find(field) != std::string::npos);
    CHECK(node.raw({"CLUSTER", "INFO"}).find(field) != std::string::npos);
  }
  CHECK(answer({"CLUSTER", "INFO"}, 3)
            .starts_with("=" + std::to_string(info.size() - info.find('\n') - 3 + 4) + "\r\ntxt:"));
  // Errors and settings, byte for byte as the node answers them.
  for (const std::vector<std::string>& words :
       std::vector<std::vector<std::string>>{{"CLUSTER", "SLOTS", "x"},
                                             {"CLUSTER", "REPLICAS", "nobody"},
                                             {"CLUSTER", "COUNT-FAILURE-REPORTS", "nobody"},
                                             {"CLUSTER"},
                                             {"READONLY"},
                                             {"READWRITE"},
                                             {"ASKING"},
                                             {"READONLY", "x"},
                                             {"SELECT", "0"},
                                             {"SELECT", "1"},
                                             {"SELECT", "-1"},
                                             {"SELECT", "01"},
                                             {"SELECT", "x"},
                                             {"SELECT", "99999999999"},
                                             {"SELECT"}}) {
    CAPTURE(words.back());
    CHECK(answer(words) == node.raw(words));
  }
  CHECK(answer({"CLUSTER", "REPLICAS", id}) == "*0\r\n");
  CHECK(answer({"CLUSTER", "MEET", "1.2.3.4", "5"}).starts_with("-ERR CLUSTER meet is not served by rpcgate"));
  CHECK_FALSE(ClusterFacade::answers("cluster", std::vector<std::string_view>{"CLUSTER", "KEYSLOT", "a"}));
  // The node id is the listener's: the same for its every connection, another for another port.
  ClusterFacade again;
  again.set_address("10.0.0.1", node.port());
  ClusterFacade other;
  other.set_address("127.0.0.1", static_cast<uint16_t>(node.port() + 1));
  auto id_of = [](const ClusterFacade& facade) {
    Response reply;
    facade.answer("cluster", std::vector<std::string_view>{"CLUSTER", "MYID"}, 2, reply);
    return reply.payload;
  };
  CHECK(id_of(again) == id_of(facade));
  CHECK(id_of(other) != id_of(facade));
}

TEST_CASE("CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT go to their slot's master") {
  RespSharding sharding(rpcgate::codec::Limits{});
  CHECK(sharding.shard(frame({"CLUSTER", "COUNTKEYSINSLOT", "1234"})) == 1234);
  CHECK(sharding.shard(frame({"cluster", "getkeysinslot", "16383", "10"})) == 16383);
  CHECK(sharding.shard(frame({"CLUSTER", "COUNTKEYSINSLOT", "16384"})) == rpcgate::codec::Sharding::kAnyShard);
  CHECK(sharding.shard(frame({"CLUSTER", "KEYSLOT", "12"})) == rpcgate::codec::Sharding::kAnyShard);
}
