// ZooKeeper discovery as pure code: the legacy node data (every way it can be wrong), the
// snapshot the master sends its workers, and how a cluster picks its endpoints from a path.
#include <doctest/doctest.h>

#include "discovery/nodes.h"

using namespace rpcgate;
using namespace rpcgate::discovery;

namespace {

Node parsed(std::string_view data) {
  Node node;
  std::string error;
  CAPTURE(data);
  REQUIRE_MESSAGE(parse_node_data(data, node, error), error);
  return node;
}

std::string refusal(std::string_view data) {
  Node node;
  std::string error;
  CAPTURE(data);
  CHECK_FALSE(parse_node_data(data, node, error));
  return error;
}

Node node(std::string name, std::string host, uint16_t port, unsigned weight = 1) {
  return Node{std::move(name), conf::Address{std::move(host), port}, weight};
}

}  // namespace

TEST_CASE("the legacy data parses with its keys in any order, extra keys ignored") {
  Node a = parsed(R"({"host": "127.0.0.1", "port": 8080})");
  CHECK(a.address.to_string() == "127.0.0.1:8080");
  CHECK(a.weight == 1);
  CHECK(parsed(R"({"port":8080,"host":"127.0.0.1","pid":4242,"started":"x"})").address.to_string() == "127.0.0.1:8080");
  CHECK(parsed(R"({"host": "::1", "port": 9, "weight": 7})").address.to_string() == "[::1]:9");
  CHECK(parsed(R"({"host": "::1", "port": 9, "weight": 7})").weight == 7);
  CHECK(parsed(R"({"host": "10.0.0.1", "port": 65535, "weight": 100})").weight == 100);
}

TEST_CASE("anything else is refused with a reason") {
  CHECK(refusal("") == "node data is not a JSON object");
  CHECK(refusal("not json") == "node data is not a JSON object");
  CHECK(refusal("[1, 2]") == "node data is not a JSON object");
  CHECK(refusal(R"({"port": 1})") == "no \"host\" string");
  CHECK(refusal(R"({"host": 127, "port": 1})") == "no \"host\" string");
  CHECK(refusal(R"({"host": "127.0.0.1"})") == "no \"port\" integer from 1 to 65535");
  CHECK(refusal(R"({"host": "127.0.0.1", "port": "8080"})") == "no \"port\" integer from 1 to 65535");
  CHECK(refusal(R"({"host": "127.0.0.1", "port": 0})") == "no \"port\" integer from 1 to 65535");
  CHECK(refusal(R"({"host": "127.0.0.1", "port": 65536})") == "no \"port\" integer from 1 to 65535");
  CHECK(refusal(R"({"host": "127.0.0.1", "port": 80.5})") == "no \"port\" integer from 1 to 65535");
  CHECK(refusal(R"({"host": "legacy.example.com", "port": 80})").starts_with("bad host: "));
  CHECK(refusal(R"({"host": "", "port": 80})").starts_with("bad host: "));
  CHECK(refusal(R"({"host": "1.2.3.4:5", "port": 80})").starts_with("bad host: "));
  CHECK(refusal(R"({"host": "127.0.0.1", "port": 1, "weight": 0})") == "\"weight\" must be an integer from 1 to 100");
  CHECK(refusal(R"({"host": "127.0.0.1", "port": 1, "weight": 101})") == "\"weight\" must be an integer from 1 to 100");
  CHECK(refusal(R"({"host": "127.0.0.1", "port": 1, "weight": "2"})") == "\"weight\" must be an integer from 1 to 100");
  std::string big = R"({"host": "127.0.0.1", "port": 1, "pad": ")" + std::string(kMaxNodeData, 'x') + "\"}";
  CHECK(refusal(big).find("at most 4096") != std::string::npos);
  CHECK(refusal(std::string(kMaxNodeData + 1, ' ')).find("at most") != std::string::npos);  // before parsing
  CHECK(refusal(std::string(4000, '[')) == "node data is not a JSON object");
  CHECK(refusal(std::string(2000, '[') + std::string(2000, ']')) == "node data is not a JSON object");
}

TEST_CASE("what rpcgate registers reads back as the legacy format") {
  std::string data = node_data("127.0.0.1", 7001);
  CHECK(data == R"({"host":"127.0.0.1","port":7001})");
  CHECK(parsed(data).address.to_string() == "127.0.0.1:7001");
}

TEST_CASE("a snapshot survives the trip to the workers, and a damaged one is refused") {
  Snapshot snapshot;
  snapshot["/demo"] = {node("rpc0000000001", "127.0.0.1", 9001), node("rpc0000000002", "::1", 9002, 5)};
  snapshot["/empty"] = {};
  Snapshot back;
  std::string error;
  REQUIRE(decode_snapshot(encode_snapshot(snapshot), back, error));
  CHECK(back == snapshot);
  for (std::string_view bad : {"", "{}", "[[\"/a\"]]", "[[\"/a\", [[\"n\", \"127.0.0.1\", 70000, 1]]]]",
                               "[[\"/a\", [[\"n\", \"nowhere\", 1, 1]]]]", "[[\"/a\", [[\"n\", \"127.0.0.1\", 1]]]]"}) {
    CAPTURE(bad);
    CHECK_FALSE(decode_snapshot(bad, back, error));
    CHECK(error == "malformed discovery snapshot");
  }
}

TEST_CASE("a cluster takes the nodes its prefix names, in name order, each address once") {
  std::vector<Node> nodes = {node("rpc0000000003", "127.0.0.1", 3), node("other", "127.0.0.1", 9),
                             node("rpc0000000001", "127.0.0.1", 1, 2), node("rpc0000000002", "127.0.0.1", 1, 4)};
  auto specs = select_endpoints(nodes, "rpc");
  REQUIRE(specs.size() == 2);
  CHECK(specs[0].address.to_string() == "127.0.0.1:1");
  CHECK(specs[0].weight == 2);  // the first by name wins
  CHECK(specs[1].address.to_string() == "127.0.0.1:3");
  CHECK(select_endpoints(nodes, "").size() == 3);
  CHECK(select_endpoints(nodes, "nothing").empty());
}
