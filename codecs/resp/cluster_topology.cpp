#include "codecs/resp/cluster_topology.h"

#include <algorithm>
#include <charconv>

#include "codecs/resp/key_slot.h"
#include "codecs/resp/reply_tree.h"

namespace rpcgate::codec::resp {
namespace {

bool read_number(std::string_view text, long long& value) {
  auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), value);
  return status == std::errc() && end == text.data() + text.size();
}

bool valid_port(long long port) { return port >= 0 && port <= 65535; }

// Redis 7.0 sends a shard's slots as integers; a later one may send them as strings.
bool read_slot(const redisReply* reply, long long& slot) {
  if (is_integer(reply)) {
    slot = reply->integer;
    return true;
  }
  return read_number(text_of(reply), slot);
}

bool valid_slots(long long first, long long last) { return first >= 0 && first <= last && last < kClusterSlots; }

// "?" is what a node says of an endpoint it does not know (cluster-preferred-endpoint-type).
std::string known_host(std::string_view host) { return host == "?" ? std::string() : std::string(host); }

// A node of CLUSTER SHARDS: a map of id, endpoint, ip, port, role, health...
bool read_shard_node(const redisReply* map, ClusterNode& node, bool& master) {
  const redisReply* port = member(map, "port");
  if (!is_integer(port) || !valid_port(port->integer)) return false;
  node.id = std::string(text_of(member(map, "id")));
  std::string_view endpoint = text_of(member(map, "endpoint"));
  node.host = known_host(endpoint.empty() ? text_of(member(map, "ip")) : endpoint);
  node.port = static_cast<uint16_t>(port->integer);
  node.healthy = text_of(member(map, "health")) == "online";
  master = text_of(member(map, "role")) == "master";
  return true;
}

// A node of CLUSTER SLOTS: [host, port, id, (metadata)].
bool read_slots_node(const redisReply* entry, ClusterNode& node) {
  if (!is_array(entry) || entry->elements < 2 || !is_integer(entry->element[1]) ||
      !valid_port(entry->element[1]->integer))
    return false;
  node.host = known_host(text_of(entry->element[0]));
  node.port = static_cast<uint16_t>(entry->element[1]->integer);
  if (entry->elements > 2) node.id = std::string(text_of(entry->element[2]));
  return true;
}

void sort_ranges(std::vector<SlotRange>& ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const SlotRange& a, const SlotRange& b) { return a.first < b.first; });
}

}  // namespace

bool read_cluster_shards(std::string_view reply, std::vector<SlotRange>& ranges, std::string& error) {
  ReplyTree root = read_reply_tree(reply, error);
  if (root == nullptr || !is_array(root.get())) {
    if (root != nullptr) error = "CLUSTER SHARDS did not answer a list of shards";
    return false;
  }
  ranges.clear();
  for (size_t s = 0; s < root->elements; ++s) {
    const redisReply* shard = root->element[s];
    const redisReply* slots = member(shard, "slots");
    const redisReply* nodes = member(shard, "nodes");
    if (!is_array(slots) || !is_array(nodes) || slots->elements % 2 != 0) {
      error = "shard " + std::to_string(s) + " of CLUSTER SHARDS has no slots and nodes";
      return false;
    }
    SlotRange shape;
    bool has_master = false;
    for (size_t n = 0; n < nodes->elements; ++n) {
      ClusterNode node;
      bool master = false;
      if (!read_shard_node(nodes->element[n], node, master)) {
        error = "a node of shard " + std::to_string(s) + " of CLUSTER SHARDS has no port";
        return false;
      }
      if (master && !has_master) {
        shape.master = std::move(node);
        has_master = true;
      } else {
        shape.replicas.push_back(std::move(node));
      }
    }
    for (size_t i = 0; i < slots->elements; i += 2) {
      long long first = 0, last = 0;
      if (!read_slot(slots->element[i], first) || !read_slot(slots->element[i + 1], last) ||
          !valid_slots(first, last)) {
        error = "shard " + std::to_string(s) + " of CLUSTER SHARDS has a slot range that is none";
        return false;
      }
      if (!has_master) continue;  // slots whose master failed are served by nobody until a failover
      SlotRange range = shape;
      range.first = static_cast<uint16_t>(first);
      range.last = static_cast<uint16_t>(last);
      ranges.push_back(std::move(range));
    }
  }
  sort_ranges(ranges);
  return true;
}

bool read_cluster_slots(std::string_view reply, std::vector<SlotRange>& ranges, std::string& error) {
  ReplyTree root = read_reply_tree(reply, error);
  if (root == nullptr || !is_array(root.get())) {
    if (root != nullptr) error = "CLUSTER SLOTS did not answer a list of ranges";
    return false;
  }
  ranges.clear();
  for (size_t r = 0; r < root->elements; ++r) {
    const redisReply* entry = root->element[r];
    SlotRange range;
    if (!is_array(entry) || entry->elements < 3 || !is_integer(entry->element[0]) || !is_integer(entry->element[1]) ||
        !valid_slots(entry->element[0]->integer, entry->element[1]->integer) ||
        !read_slots_node(entry->element[2], range.master)) {
      error = "entry " + std::to_string(r) + " of CLUSTER SLOTS is not a slot range";
      return false;
    }
    range.first = static_cast<uint16_t>(entry->element[0]->integer);
    range.last = static_cast<uint16_t>(entry->element[1]->integer);
    for (size_t i = 3; i < entry->elements; ++i) {
      ClusterNode replica;
      if (!read_slots_node(entry->element[i], replica)) {
        error = "a replica of entry " + std::to_string(r) + " of CLUSTER SLOTS has no port";
        return false;
      }
      range.replicas.push_back(std::move(replica));
    }
    ranges.push_back(std::move(range));
  }
  sort_ranges(ranges);
  return true;
}

Redirect read_redirect(std::string_view error) {
  Redirect redirect;
  Redirect::Kind kind = Redirect::Kind::kNone;
  if (error.substr(0, 6) == "MOVED ") {
    kind = Redirect::Kind::kMoved;
    error.remove_prefix(6);
  } else if (error.substr(0, 4) == "ASK ") {
    kind = Redirect::Kind::kAsk;
    error.remove_prefix(4);
  } else {
    return redirect;
  }
  // "SLOT HOST:PORT"; the host may be an IPv6 address (its colons before the port's) or empty.
  const size_t space = error.find(' ');
  const size_t colon = error.rfind(':');
  long long slot = 0, port = 0;
  if (space == std::string_view::npos || colon == std::string_view::npos || colon < space ||
      !read_number(error.substr(0, space), slot) || slot < 0 || slot >= kClusterSlots ||
      !read_number(error.substr(colon + 1), port) || !valid_port(port))
    return redirect;
  redirect.kind = kind;
  redirect.slot = static_cast<uint16_t>(slot);
  redirect.host = std::string(error.substr(space + 1, colon - space - 1));
  redirect.port = static_cast<uint16_t>(port);
  return redirect;
}

}  // namespace rpcgate::codec::resp
