// The slot map and redirects read from a real Redis Cluster of three nodes made here: two masters
// with two ranges each and a replica of the first (cluster-enabled redis-servers joined with
// CLUSTER MEET, slots given with ADDSLOTSRANGE), a MOVED and an ASK as the nodes answer them.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "codecs/resp/cluster_topology.h"
#include "codecs/resp/key_slot.h"
#include "tests/support/redis_server.h"

namespace {

using namespace rpcgate::codec::resp;
using rpcgate::test::RedisServer;

template <typename Predicate>
bool eventually(Predicate predicate) {
  for (int i = 0; i < 500; ++i) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// A key whose slot is in [first, last].
std::string key_in(uint16_t first, uint16_t last) {
  for (int i = 0;; ++i) {
    std::string key = "key" + std::to_string(i);
    if (key_slot(key) >= first && key_slot(key) <= last) return key;
  }
}

struct Cluster {
  Cluster() {
    REQUIRE(a.text({"CLUSTER", "ADDSLOTSRANGE", "0", "8191", "12000", "12100"}) == "OK");
    REQUIRE(b.text({"CLUSTER", "ADDSLOTSRANGE", "8192", "11999", "12101", "16383"}) == "OK");
    REQUIRE(a.text({"CLUSTER", "MEET", "127.0.0.1", std::to_string(b.port())}) == "OK");
    REQUIRE(c.text({"CLUSTER", "MEET", "127.0.0.1", std::to_string(a.port())}) == "OK");
    a_id = a.text({"CLUSTER", "MYID"});
    b_id = b.text({"CLUSTER", "MYID"});
    c_id = c.text({"CLUSTER", "MYID"});
    const bool met = eventually([&] { return c.text({"CLUSTER", "NODES"}).find(a_id) != std::string::npos; });
    REQUIRE(met);
    REQUIRE(c.text({"CLUSTER", "REPLICATE", a_id}) == "OK");
    // Both masters list the replica once it has an offset: a write on its master gives it one at once,
    // where the master's replication ping would take 10 s.
    const std::string key_of_a = key_in(0, 8191);
    const bool agreed = eventually([&] {
      a.ask({"SET", key_of_a, "x"});
      for (RedisServer* node : {&a, &b}) {
        std::vector<SlotRange> ranges;
        std::string error;
        if (!read_cluster_slots(node->raw({"CLUSTER", "SLOTS"}), ranges, error) || ranges.size() != 4 ||
            ranges[0].replicas.size() != 1 || ranges[1].master.id != b_id)
          return false;
      }
      return true;
    });
    REQUIRE_MESSAGE(agreed, "the three nodes did not agree in time: " << a.text({"CLUSTER", "NODES"}));
  }

  RedisServer a, b, c;
  std::string a_id, b_id, c_id;
};

void check_map(const std::vector<SlotRange>& ranges, const Cluster& cluster) {
  REQUIRE(ranges.size() == 4);
  const std::vector<std::pair<uint16_t, uint16_t>> bounds = {{0, 8191}, {8192, 11999}, {12000, 12100}, {12101, 16383}};
  for (size_t i = 0; i < ranges.size(); ++i) {
    CAPTURE(i);
    CHECK(ranges[i].first == bounds[i].first);
    CHECK(ranges[i].last == bounds[i].second);
    const bool on_a = i % 2 == 0;
    CHECK(ranges[i].master.host == "127.0.0.1");
    CHECK(ranges[i].master.port == (on_a ? cluster.a.port() : cluster.b.port()));
    CHECK(ranges[i].master.id == (on_a ? cluster.a_id : cluster.b_id));
    REQUIRE(ranges[i].replicas.size() == (on_a ? 1u : 0u));
    if (on_a) {
      CHECK(ranges[i].replicas[0].port == cluster.c.port());
      CHECK(ranges[i].replicas[0].id == cluster.c_id);
    }
  }
}

}  // namespace

// One cluster for the test cases (making one takes seconds of gossip); the last case changes a slot.
Cluster& cluster() {
  static Cluster made;
  return made;
}

TEST_CASE("CLUSTER SHARDS and CLUSTER SLOTS give the same map, as the nodes were set up") {
  Cluster& c = cluster();
  std::vector<SlotRange> shards, slots;
  std::string error;
  REQUIRE_MESSAGE(read_cluster_shards(c.a.raw({"CLUSTER", "SHARDS"}), shards, error), error);
  check_map(shards, c);
  REQUIRE_MESSAGE(read_cluster_slots(c.b.raw({"CLUSTER", "SLOTS"}), slots, error), error);
  check_map(slots, c);
  CHECK(shards[0].master.healthy);
}

TEST_CASE("a MOVED and an ASK as the nodes answer them") {
  Cluster& c = cluster();
  const std::string key = key_in(8192, 11999);  // b's
  const std::string moved = c.a.text({"GET", key});
  CAPTURE(moved);
  Redirect redirect = read_redirect(moved);
  CHECK(redirect.kind == Redirect::Kind::kMoved);
  CHECK(redirect.slot == key_slot(key));
  CHECK(redirect.host == "127.0.0.1");
  CHECK(redirect.port == c.b.port());

  // The key's slot migrating from b to a: b sends a client asking for a key it lacks to a.
  const std::string slot = std::to_string(key_slot(key));
  REQUIRE(c.a.text({"CLUSTER", "SETSLOT", slot, "IMPORTING", c.b_id}) == "OK");
  REQUIRE(c.b.text({"CLUSTER", "SETSLOT", slot, "MIGRATING", c.a_id}) == "OK");
  const std::string ask = c.b.text({"GET", key});
  CAPTURE(ask);
  redirect = read_redirect(ask);
  CHECK(redirect.kind == Redirect::Kind::kAsk);
  CHECK(redirect.slot == key_slot(key));
  CHECK(redirect.port == c.a.port());
}

TEST_CASE("redirects and maps that are none") {
  for (const char* error : {"ERR unknown", "MOVED", "MOVED x 1.2.3.4:5", "MOVED 16384 h:1", "MOVED 1 h:65536",
                            "MOVED 1 nohostport", "ASK 1", "MOVED -1 h:1", "moved 1 h:1"}) {
    CAPTURE(error);
    CHECK(read_redirect(error).kind == Redirect::Kind::kNone);
  }
  Redirect six = read_redirect("MOVED 7 ::1:7000");
  CHECK(six.kind == Redirect::Kind::kMoved);
  CHECK(six.host == "::1");
  CHECK(six.port == 7000);

  std::vector<SlotRange> ranges;
  std::string error;
  CHECK_FALSE(read_cluster_slots("-ERR This instance has cluster support disabled\r\n", ranges, error));
  CHECK(error == "ERR This instance has cluster support disabled");
  CHECK_FALSE(read_cluster_slots("*1\r\n*3\r\n:0\r\n:20000\r\n*2\r\n$1\r\nh\r\n:1\r\n", ranges, error));
  CHECK_FALSE(read_cluster_slots("*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\nh\r\n", ranges, error));
  CHECK(read_cluster_slots("*0\r\n", ranges, error));
  CHECK(ranges.empty());
  CHECK_FALSE(read_cluster_shards(":1\r\n", ranges, error));
  CHECK_FALSE(read_cluster_shards("*1\r\n*2\r\n$5\r\nslots\r\n*1\r\n:0\r\n", ranges, error));
}
