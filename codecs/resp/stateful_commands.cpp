#include "codecs/resp/stateful_commands.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace rpcgate::codec::resp {
namespace {

struct Entry {
  std::string_view name;
  Pinning pinning;
};

// Every command whose effect is not "one reply, nothing left on the connection". A shared
// connection matches replies to requests by count alone, so one of these on it would hand other
// clients replies that are not theirs. Sorted by name, for the binary search.
constexpr std::array kCommands = std::to_array<Entry>({
    {"asking", Pinning::kSession},   // the next command may reach a migrating slot
    {"blmove", Pinning::kBlocking},  // blocking calls hold their connection
    {"blmpop", Pinning::kBlocking},
    {"blpop", Pinning::kBlocking},
    {"brpop", Pinning::kBlocking},
    {"brpoplpush", Pinning::kBlocking},
    {"bzmpop", Pinning::kBlocking},
    {"bzpopmax", Pinning::kBlocking},
    {"bzpopmin", Pinning::kBlocking},
    {"monitor", Pinning::kStream},       // then a line per command the server runs
    {"multi", Pinning::kSession},        // a transaction belongs to its connection
    {"psubscribe", Pinning::kStream},    // a reply per pattern, then messages
    {"psync", Pinning::kStream},         // then an RDB file and the replication stream
    {"punsubscribe", Pinning::kStream},  // a reply per pattern, or per subscription held
    {"readonly", Pinning::kSession},     // connection settings
    {"readwrite", Pinning::kSession},
    {"replconf", Pinning::kStream},  // REPLCONF ACK has no reply at all
    {"ssubscribe", Pinning::kStream},
    {"subscribe", Pinning::kStream},
    {"sunsubscribe", Pinning::kStream},
    {"sync", Pinning::kStream},
    {"unsubscribe", Pinning::kStream},  // three replies to UNSUBSCRIBE a b c,
                                        // subscribed or not
    {"wait", Pinning::kBlocking},       // counts the replicas that saw this connection's writes
    {"waitaof", Pinning::kBlocking},
    {"watch", Pinning::kSession},
});

static_assert(std::is_sorted(kCommands.begin(), kCommands.end(),
                             [](const Entry& a, const Entry& b) { return a.name < b.name; }));

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
  if (name == "select") return first_argument(request.params) == "0" ? Pinning::kLocalUnlessPinned : Pinning::kSession;
  if (name == "client") return client_pinning(request.params);
  // The RESP listener keeps the protocol, the name and the login with the client (RespServerCodec).
  if (name == "hello" || name == "auth" || name == "reset" || name == "quit") return Pinning::kLocalUnlessPinned;
  if (name == "xread" || name == "xreadgroup") {
    // They hold the connection only with BLOCK.
    const Json& params = request.params;
    if (!params.is_array()) return Pinning::kNone;
    return std::any_of(params.begin(), params.end(), is_block_option) ? Pinning::kBlocking : Pinning::kNone;
  }
  auto found = std::lower_bound(kCommands.begin(), kCommands.end(), std::string_view(name),
                                [](const Entry& entry, std::string_view wanted) { return entry.name < wanted; });
  return found != kCommands.end() && found->name == name ? found->pinning : Pinning::kNone;
}

bool shareable(const Request& request) {
  if (request.method == "hello") return argument_count(request.params) == 0;
  return command_pinning(request) == Pinning::kNone;
}

}  // namespace rpcgate::codec::resp
