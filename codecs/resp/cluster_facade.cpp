#include "codecs/resp/cluster_facade.h"

#include <algorithm>
#include <array>
#include <climits>

#include "codecs/resp/key_slot.h"
#include "codecs/resp/resp_encoder.h"
#include "codecs/resp/resp_line.h"
#include "codecs/resp/resp_writer.h"

namespace rpcgate::codec::resp {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Answered here, from the one node there is.
constexpr std::array kTopology = std::to_array<std::string_view>(
    {"slots", "shards", "nodes", "info", "myid", "links", "replicas", "slaves", "count-failure-reports"});
// They change the cluster's own configuration: an operator sends them to the nodes themselves.
constexpr std::array kRefused = std::to_array<std::string_view>(
    {"addslots", "addslotsrange", "bumpepoch", "delslots", "delslotsrange", "failover", "flushslots", "forget", "meet",
     "replicate", "reset", "saveconfig", "set-config-epoch", "setslot"});

bool listed(std::string_view word, std::span<const std::string_view> list) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

void refuse(Response& reply, std::string text) {
  reply.set_error(ErrorCode::kBadRequest, std::move(text));
  reply.kind = kKindRawError;
}

void raw(Response& reply, std::string bytes) {
  reply.kind = kKindRawReply;
  reply.payload = std::move(bytes);
}

void append_map_header(std::string& out, size_t pairs, int protocol) {
  if (protocol == 3)
    append_unsigned_header(out, '%', pairs);
  else
    append_unsigned_header(out, '*', pairs * 2);
}

// CLUSTER INFO and NODES are text: a verbatim string in RESP3, as Redis writes them.
std::string text_reply(std::string_view text, int protocol) {
  std::string out;
  if (protocol == 3) {
    append_unsigned_header(out, '=', text.size() + 4);
    out.append("txt:");
    out.append(text);
    out.append("\r\n");
  } else {
    append_bulk(out, text);
  }
  return out;
}

// A node id as Redis makes them (40 hex digits), from the listener's port: FNV-1a, three seeds.
std::string node_id(uint16_t port) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string key = "rpcgate listener " + std::to_string(port);
  std::string id;
  for (uint64_t seed = 0; id.size() < 40; ++seed) {
    uint64_t hash = 14695981039346656037ull ^ (seed * 0x9e3779b97f4a7c15ull);
    for (char c : key) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    for (int shift = 60; shift >= 0 && id.size() < 40; shift -= 4) id.push_back(kHex[(hash >> shift) & 0xf]);
  }
  return id;
}

constexpr std::string_view kClusterInfo =
    "cluster_state:ok\r\n"
    "cluster_slots_assigned:16384\r\n"
    "cluster_slots_ok:16384\r\n"
    "cluster_slots_pfail:0\r\n"
    "cluster_slots_fail:0\r\n"
    "cluster_known_nodes:1\r\n"
    "cluster_size:1\r\n"
    "cluster_current_epoch:0\r\n"
    "cluster_my_epoch:0\r\n"
    "cluster_stats_messages_sent:0\r\n"
    "cluster_stats_messages_received:0\r\n"
    "total_cluster_links_buffer_limit_exceeded:0\r\n";

}  // namespace

bool ClusterFacade::answers(std::string_view name, std::span<const std::string_view> argv) {
  if (name == "readonly" || name == "readwrite" || name == "asking" || name == "select") return true;
  if (name != "cluster") return false;
  if (argv.size() < 2) return true;  // the arity error
  const std::string sub = lower(argv[1]);
  return listed(sub, kTopology) || listed(sub, kRefused);
}

uint32_t ClusterFacade::slot_asked(const std::vector<std::string_view>& words) {
  int64_t slot = 0;
  if (words.size() < 3 || lower(words[0]) != "cluster") return kClusterSlots;
  const std::string sub = lower(words[1]);
  if ((sub != "countkeysinslot" && sub != "getkeysinslot") || !parse_resp_integer(words[2], slot) || slot < 0 ||
      slot >= kClusterSlots)
    return kClusterSlots;
  return static_cast<uint32_t>(slot);
}

void ClusterFacade::set_address(std::string_view host, uint16_t port) {
  host_.assign(host);
  port_ = port;
  id_ = node_id(port);
}

void ClusterFacade::answer(std::string_view name, std::span<const std::string_view> argv, int protocol,
                           Response& reply) const {
  if (name == "cluster") return cluster(argv, protocol, reply);
  if (name == "select") {
    int64_t db = 0;
    if (argv.size() != 2) return refuse(reply, "ERR wrong number of arguments for 'select' command");
    if (!parse_resp_integer(argv[1], db)) return refuse(reply, "ERR value is not an integer or out of range");
    if (db < INT_MIN || db > INT_MAX)  // Redis's words, as they are
      return refuse(reply, "ERR value is out of range, value must between -2147483648 and 2147483647");
    if (db != 0) return refuse(reply, "ERR SELECT is not allowed in cluster mode");
    reply.status = "OK";
    return;
  }
  // READONLY, READWRITE, ASKING: every slot is this node's, a master's.
  if (argv.size() != 1) return refuse(reply, "ERR wrong number of arguments for '" + std::string(name) + "' command");
  reply.status = "OK";
}

void ClusterFacade::cluster(std::span<const std::string_view> argv, int protocol, Response& reply) const {
  if (argv.size() < 2) return refuse(reply, "ERR wrong number of arguments for 'cluster' command");
  const std::string sub = lower(argv[1]);
  if (listed(sub, kRefused))
    return refuse(reply, "ERR CLUSTER " + sub +
                             " is not served by rpcgate, which shows the cluster as one node: "
                             "send it to the cluster's own nodes");
  const bool about_a_node = sub == "replicas" || sub == "slaves" || sub == "count-failure-reports";
  if (argv.size() != (about_a_node ? 3u : 2u))
    return refuse(reply, "ERR wrong number of arguments for 'cluster|" + sub + "' command");
  if (about_a_node && argv[2] != id_) return refuse(reply, "ERR Unknown node " + std::string(argv[2]));
  if (sub == "myid") {
    raw(reply, "$40\r\n" + id_ + "\r\n");
  } else if (sub == "slots") {
    raw(reply, slots(protocol));
  } else if (sub == "shards") {
    raw(reply, shards(protocol));
  } else if (sub == "nodes") {
    raw(reply, text_reply(nodes(), protocol));
  } else if (sub == "info") {
    raw(reply, text_reply(kClusterInfo, protocol));
  } else if (sub == "count-failure-reports") {
    raw(reply, ":0\r\n");
  } else {  // links, replicas, slaves: none
    raw(reply, "*0\r\n");
  }
}

// [[0, 16383, [host, port, id, {}]]]: one range, its master and no replica.
std::string ClusterFacade::slots(int protocol) const {
  std::string out = "*1\r\n*3\r\n:0\r\n";
  append_header(out, ':', kClusterSlots - 1);
  out.append("*4\r\n");
  append_bulk(out, host_);
  append_header(out, ':', port_);
  append_bulk(out, id_);
  append_map_header(out, 0, protocol);  // the node's other endpoints (hostname): none
  return out;
}

// [{slots: [0, 16383], nodes: [{id, port, ip, endpoint, role, replication-offset, health}]}]
std::string ClusterFacade::shards(int protocol) const {
  std::string out = "*1\r\n";
  append_map_header(out, 2, protocol);
  append_bulk(out, "slots");
  out.append("*2\r\n:0\r\n");
  append_header(out, ':', kClusterSlots - 1);
  append_bulk(out, "nodes");
  out.append("*1\r\n");
  append_map_header(out, 7, protocol);
  append_bulk(out, "id");
  append_bulk(out, id_);
  append_bulk(out, "port");
  append_header(out, ':', port_);
  append_bulk(out, "ip");
  append_bulk(out, host_);
  append_bulk(out, "endpoint");
  append_bulk(out, host_);
  append_bulk(out, "role");
  append_bulk(out, "master");
  append_bulk(out, "replication-offset");
  out.append(":0\r\n");
  append_bulk(out, "health");
  append_bulk(out, "online");
  return out;
}

// <id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slots>
// There is no cluster bus: its port is given as 0.
std::string ClusterFacade::nodes() const {
  return id_ + " " + host_ + ":" + std::to_string(port_) + "@0 myself,master - 0 0 0 connected 0-" +
         std::to_string(kClusterSlots - 1) + "\n";
}

}  // namespace rpcgate::codec::resp
