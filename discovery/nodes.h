// What ZooKeeper discovery reads and writes, as pure code over bytes: the legacy services' child
// node data, and the snapshot of every watched path the master sends its workers.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "discovery/endpoint_spec.h"

namespace rpcgate::discovery {

// Node data is a small JSON object; anything larger is not a legacy registration.
constexpr size_t kMaxNodeData = 4096;
constexpr unsigned kMaxWeight = 100;
// Children of one watched path beyond this are ignored (and logged): a runaway registry must not
// grow every worker's endpoint set without bound.
constexpr size_t kMaxNodesPerPath = 1024;

// A child of a watched path whose data parsed: one live instance.
struct Node {
  std::string name;  // the child's name, "rpc0000000007"
  conf::Address address;
  unsigned weight = 1;
  bool operator==(const Node&) const = default;
};

// The legacy data, {"host": "127.0.0.1", "port": 8080}: keys in any order, port an integer, host
// an IP literal (nothing is resolved), and an optional integer "weight" from 1 to kMaxWeight.
// Other keys are ignored. False, with `error` saying why, for anything else.
bool parse_node_data(std::string_view data, Node& out, std::string& error);
// The data rpcgate registers itself with, in the same format.
std::string node_data(const std::string& host, uint16_t port);

// Every watched path's nodes, as the master last read them.
using Snapshot = std::map<std::string, std::vector<Node>, std::less<>>;
std::string encode_snapshot(const Snapshot& snapshot);
bool decode_snapshot(std::string_view text, Snapshot& out, std::string& error);

// A cluster's endpoints from its path's nodes: those whose name starts with `prefix`, each
// address once (the first by name order wins).
std::vector<EndpointSpec> select_endpoints(const std::vector<Node>& nodes, std::string_view prefix);

}  // namespace rpcgate::discovery
