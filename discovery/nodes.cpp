#include "discovery/nodes.h"

#include <algorithm>

#include "conf/scalars.h"
#include "core/message.h"

namespace rpcgate::discovery {
namespace {

// An IPv6 host needs brackets before parse_address sees it with its port.
std::string with_port(const std::string& host, uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

bool parse_node_data(std::string_view data, Node& out, std::string& error) {
  if (data.size() > kMaxNodeData) {
    error = "node data of " + std::to_string(data.size()) + " bytes (at most " + std::to_string(kMaxNodeData) + ")";
    return false;
  }
  Json json = Json::parse(data.begin(), data.end(), nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    error = "node data is not a JSON object";
    return false;
  }
  auto host = json.find("host");
  auto port = json.find("port");
  if (host == json.end() || !host->is_string()) {
    error = "no \"host\" string";
    return false;
  }
  if (port == json.end() || !port->is_number_integer() || port->get<int64_t>() < 1 || port->get<int64_t>() > 65535) {
    error = "no \"port\" integer from 1 to 65535";
    return false;
  }
  std::string problem;
  auto address = conf::parse_address(with_port(host->get<std::string>(), port->get<uint16_t>()), &problem);
  if (!address) {
    error = "bad host: " + problem;
    return false;
  }
  unsigned weight = 1;
  if (auto w = json.find("weight"); w != json.end()) {
    if (!w->is_number_integer() || w->get<int64_t>() < 1 || w->get<int64_t>() > int64_t{kMaxWeight}) {
      error = "\"weight\" must be an integer from 1 to " + std::to_string(kMaxWeight);
      return false;
    }
    weight = w->get<unsigned>();
  }
  out.address = std::move(*address);
  out.weight = weight;
  return true;
}

std::string node_data(const std::string& host, uint16_t port) { return Json{{"host", host}, {"port", port}}.dump(); }

// [[path, [[name, host, port, weight], ...]], ...]: compact, and the worker checks every field.
std::string encode_snapshot(const Snapshot& snapshot) {
  Json paths = Json::array();
  for (const auto& [path, nodes] : snapshot) {
    Json list = Json::array();
    for (const Node& node : nodes) list.push_back({node.name, node.address.host, node.address.port, node.weight});
    paths.push_back({path, std::move(list)});
  }
  return paths.dump();
}

bool decode_snapshot(std::string_view text, Snapshot& out, std::string& error) {
  Json json = Json::parse(text.begin(), text.end(), nullptr, false);
  out.clear();
  error = "malformed discovery snapshot";
  if (!json.is_array()) return false;
  for (const Json& entry : json) {
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_array()) return false;
    std::vector<Node>& nodes = out[entry[0].get<std::string>()];
    for (const Json& item : entry[1]) {
      if (!item.is_array() || item.size() != 4 || !item[0].is_string() || !item[1].is_string() ||
          !item[2].is_number_unsigned() || item[2].get<uint64_t>() > 65535 || !item[3].is_number_unsigned() ||
          item[3].get<uint64_t>() < 1 || item[3].get<uint64_t>() > kMaxWeight)
        return false;
      auto address = conf::parse_address(with_port(item[1].get<std::string>(), item[2].get<uint16_t>()));
      if (!address) return false;
      nodes.push_back(Node{item[0].get<std::string>(), std::move(*address), item[3].get<unsigned>()});
    }
  }
  error.clear();
  return true;
}

std::vector<EndpointSpec> select_endpoints(const std::vector<Node>& nodes, std::string_view prefix) {
  std::vector<const Node*> chosen;
  for (const Node& node : nodes)
    if (node.name.starts_with(prefix)) chosen.push_back(&node);
  std::sort(chosen.begin(), chosen.end(), [](const Node* a, const Node* b) { return a->name < b->name; });
  std::vector<EndpointSpec> specs;
  for (const Node* node : chosen) {
    std::string name = node->address.to_string();
    bool seen = std::any_of(specs.begin(), specs.end(),
                            [&](const EndpointSpec& spec) { return spec.address.to_string() == name; });
    if (!seen) specs.push_back(EndpointSpec{node->address, node->weight});
  }
  return specs;
}

}  // namespace rpcgate::discovery
