#include "codecs/resp/stateful_commands.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace rpcgate::codec::resp {
namespace {

// kByArguments: the arguments decide (command_pinning reads them).
constexpr Pinning kByArguments = static_cast<Pinning>(0xff);

struct Entry {
  std::string_view name;
  Pinning pinning;
};

// Every command whose effect is not "one reply, nothing left on the connection". A shared
// connection matches replies to requests by count alone, so one of these on it would hand other
// clients replies that are not theirs. Sorted by name.
constexpr std::array kCommands = std::to_array<Entry>({
    {"asking", Pinning::kSession},          // the next command may reach a migrating slot
    {"auth", Pinning::kLocalUnlessPinned},  // kept with the client, as HELLO, QUIT and RESET
                                            // are (RespServerCodec)
    {"blmove", Pinning::kBlocking},         // blocking calls hold their connection
    {"blmpop", Pinning::kBlocking},
    {"blpop", Pinning::kBlocking},
    {"brpop", Pinning::kBlocking},
    {"brpoplpush", Pinning::kBlocking},
    {"bzmpop", Pinning::kBlocking},
    {"bzpopmax", Pinning::kBlocking},
    {"bzpopmin", Pinning::kBlocking},
    {"client", kByArguments},
    {"hello", Pinning::kLocalUnlessPinned},
    {"monitor", Pinning::kStream},       // then a line per command the server runs
    {"multi", Pinning::kSession},        // a transaction belongs to its connection
    {"psubscribe", Pinning::kStream},    // a reply per pattern, then messages
    {"psync", Pinning::kStream},         // then an RDB file and the replication stream
    {"punsubscribe", Pinning::kStream},  // a reply per pattern, or per subscription held
    {"quit", Pinning::kLocalUnlessPinned},
    {"readonly", Pinning::kSession},  // connection settings
    {"readwrite", Pinning::kSession},
    {"replconf", Pinning::kStream},  // REPLCONF ACK has no reply at all
    {"reset", Pinning::kLocalUnlessPinned},
    {"select", kByArguments},
    {"ssubscribe", Pinning::kStream},
    {"subscribe", Pinning::kStream},
    {"sunsubscribe", Pinning::kStream},
    {"sync", Pinning::kStream},
    {"unsubscribe", Pinning::kStream},  // three replies to UNSUBSCRIBE a b c,
                                        // subscribed or not
    {"wait", Pinning::kBlocking},       // counts the replicas that saw this connection's writes
    {"waitaof", Pinning::kBlocking},
    {"watch", Pinning::kSession},
    {"xread", kByArguments},
    {"xreadgroup", kByArguments},
});

static_assert(std::is_sorted(kCommands.begin(), kCommands.end(),
                             [](const Entry& a, const Entry& b) { return a.name < b.name; }));

// The table by name length: a command of a length no entry has (GET, SET, HGETALL...), which is
// most commands sent, is known to be none of them without comparing a byte. Every command is
// looked up at least twice (the listener's pinning, the cluster's shareable), so this is on
// the proxy's hot path.
constexpr size_t kLongestName = 12;
constexpr auto kLengths = [] {
  std::array<bool, kLongestName + 1> lengths{};
  for (const Entry& entry : kCommands) lengths[entry.name.size()] = true;
  return lengths;
}();
static_assert(std::all_of(kCommands.begin(), kCommands.end(),
                          [](const Entry& entry) { return entry.name.size() <= kLongestName; }));

// The entry's pinning, or kNone for a command not in the table.
Pinning table_pinning(std::string_view name) {
  if (name.size() > kLongestName || !kLengths[name.size()]) return Pinning::kNone;
  for (const Entry& entry : kCommands)
    if (entry.name.size() == name.size() && entry.name == name) return entry.pinning;
  return Pinning::kNone;
}

bool equals_lower(const std::string& text, std::string_view lower) {
  return text.size() == lower.size() && std::equal(text.begin(), text.end(), lower.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

bool is_block_option(const Json& argument) {
  return argument.is_string() && equals_lower(argument.get_ref<const std::string&>(), "block");
}

// The first argument as lower-case text ("" when there is none).
std::string first_argument(const Json& params) {
  const Json* first = params.is_array() ? (params.empty() ? nullptr : &params[0]) : &params;
  if (first == nullptr || first->is_null()) return {};
  std::string text = first->is_string() ? first->get<std::string>() : first->dump();
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

size_t argument_count(const Json& params) { return params.is_array() ? params.size() : params.is_null() ? 0 : 1; }

Pinning client_pinning(const Json& params) {
  std::string sub = first_argument(params);
  // The name is kept with the client and replayed on a connection of its own.
  if (sub == "setname" || sub == "getname") return Pinning::kLocalUnlessPinned;
  // Server-wide, or a library's name and version (shown by CLIENT LIST, harmless on a shared
  // connection, and sent by redis-py on every connection it opens).
  if (sub == "list" || sub == "help" || sub == "setinfo" || sub == "pause" || sub == "unpause" || sub == "unblock")
    return Pinning::kNone;
  if (sub == "reply") return Pinning::kStream;  // OFF and SKIP take replies away
  // ID, INFO, KILL, TRACKING, CACHING, NO-EVICT, GETREDIR... name or change this connection.
  return Pinning::kSession;
}

}  // namespace

Pinning command_pinning(const Request& request) {
  const std::string& name = request.method;
  const Pinning pinning = table_pinning(name);
  if (pinning != kByArguments) return pinning;
  if (name == "select") return first_argument(request.params) == "0" ? Pinning::kLocalUnlessPinned : Pinning::kSession;
  if (name == "client") return client_pinning(request.params);
  // XREAD and XREADGROUP hold the connection only with BLOCK.
  const Json& params = request.params;
  if (!params.is_array()) return Pinning::kNone;
  return std::any_of(params.begin(), params.end(), is_block_option) ? Pinning::kBlocking : Pinning::kNone;
}

bool pinning_reads_arguments(std::string_view name) {
  return table_pinning(name) == kByArguments || name == "hello" || name == "multi" || name == "exec" ||
         name == "discard" || name == "watch" || name == "unwatch";
}

bool shareable(const Request& request) {
  const Pinning pinning = command_pinning(request);
  if (pinning == Pinning::kLocalUnlessPinned && request.method == "hello") return argument_count(request.params) == 0;
  return pinning == Pinning::kNone;
}

}  // namespace rpcgate::codec::resp
