// libFuzzer target for what ZooKeeper discovery reads: node data written by anyone with access to
// the registry, and the snapshot the master sends its workers. Neither may crash or trip a
// sanitizer; a parsed node's address is one the gateway can connect to; a snapshot that decodes
// encodes back to one that decodes to the same value.
//
// Input layout: [selector byte][bytes]: even selector = node data, odd = snapshot.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "conf/scalars.h"
#include "discovery/nodes.h"

using namespace rpcgate;
using namespace rpcgate::discovery;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string error;
  if (data[0] % 2 == 0) {
    Node node;
    if (!parse_node_data(input, node, error)) {
      if (error.empty()) __builtin_trap();  // a refusal always says why
      return 0;
    }
    if (node.address.port == 0 || node.weight < 1 || node.weight > kMaxWeight) __builtin_trap();
    if (!conf::parse_address(node.address.to_string())) __builtin_trap();
    return 0;
  }
  Snapshot snapshot;
  if (!decode_snapshot(input, snapshot, error)) return 0;
  Snapshot again;
  if (!decode_snapshot(encode_snapshot(snapshot), again, error) || again != snapshot) __builtin_trap();
  for (const auto& [path, nodes] : snapshot) select_endpoints(nodes, "rpc");
  return 0;
}
