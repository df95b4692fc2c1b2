#include "codecs/resp/stateful_commands.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace rpcgate::codec::resp {
namespace {

// Server-side state that later commands of the same client rely on.
constexpr std::array<std::string_view, 17> kSessionCommands = {
    "multi",   "watch",    "blpop",    "brpop",    "brpoplpush", "blmove", "blmpop",  "bzpopmin", "bzpopmax",
    "bzmpop",  "wait",     "waitaof",  "readonly", "readwrite",  "reset",  "xread",   "xreadgroup"};

// The connection becomes a stream of messages the server sends on its own.
constexpr std::array<std::string_view, 4> kPushCommands = {"subscribe", "psubscribe", "ssubscribe", "monitor"};

bool contains(auto& names, std::string_view name) { return std::find(names.begin(), names.end(), name) != names.end(); }

bool is_block_option(const Json& argument) {
  if (!argument.is_string()) return false;
  const auto& text = argument.get_ref<const std::string&>();
  return text.size() == 5 && std::equal(text.begin(), text.end(), "block", [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// The first argument as lower-case text ("" when there is none).
std::string first_argument(const Json& params) {
  const Json* first = params.is_array() ? (params.empty() ? nullptr : &params[0]) : &params;
  if (first == nullptr || first->is_null()) return {};
  std::string text = first->is_string() ? first->get<std::string>() : first->dump();
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

Pinning command_pinning(const Request& request) {
  const std::string& name = request.method;
  if (name == "select") return first_argument(request.params) == "0" ? Pinning::kLocalUnlessPinned : Pinning::kSession;
  if (name == "client") {
    std::string sub = first_argument(request.params);
    // The name is kept by the codec and replayed on a pinned connection; LIST and INFO describe
    // whichever connection carries them, which is harmless.
    if (sub == "setname" || sub == "getname" || sub == "setinfo") return Pinning::kLocalUnlessPinned;
    if (sub == "list" || sub == "info") return Pinning::kNone;
    return Pinning::kSession;
  }
  if (contains(kPushCommands, name)) return Pinning::kPush;
  if (!contains(kSessionCommands, name)) return Pinning::kNone;
  // XREAD and XREADGROUP hold the connection only with BLOCK.
  if (name == "xread" || name == "xreadgroup") {
    const Json& params = request.params;
    if (!params.is_array()) return Pinning::kNone;
    return std::any_of(params.begin(), params.end(), is_block_option) ? Pinning::kSession : Pinning::kNone;
  }
  return Pinning::kSession;
}

}  // namespace rpcgate::codec::resp
