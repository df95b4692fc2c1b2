// The grpc codec's registry entry: its options, and the descriptors it loads with the config for a
// listener or a cluster alike.
#include "codecs/grpc/grpc_codec.h"

#include <string>
#include <vector>

#include "codecs/grpc/descriptors.h"

namespace rpcgate::codec::grpc {
namespace {

using Kind = CodecOption::Kind;
using Side = CodecOption::Side;

const CodecOption kOptions[] = {
    {.key = "descriptors", .kind = Kind::kStringList, .side = Side::kBoth, .note = "protobuf descriptor sets"},
    {.key = "unwrap", .kind = Kind::kBool, .side = Side::kBoth, .note = "one-field messages as bare values"},
    {.key = "max_message_bytes", .kind = Kind::kSize, .side = Side::kBoth, .min = 1, .max = 1u << 30},
    {.key = "max_concurrent_streams", .kind = Kind::kInteger, .side = Side::kListener, .min = 1, .max = 1u << 20},
    {.key = "max_header_list_bytes", .kind = Kind::kSize, .side = Side::kBoth, .min = 1024, .max = 16u << 20},
    {.key = "initial_window_bytes", .kind = Kind::kSize, .side = Side::kBoth, .min = 65535, .max = 0x7FFF'FFFF},
    {.key = "max_pending_bytes", .kind = Kind::kSize, .side = Side::kListener, .min = 1, .max = 1ull << 34},
    {.key = "max_resets", .kind = Kind::kInteger, .side = Side::kListener, .min = 1, .max = 1u << 30},
    {.key = "resets_per_second", .kind = Kind::kInteger, .side = Side::kListener, .min = 0, .max = 1u << 30},
};

std::pair<std::string_view, std::string> check(const CodecOptions& options) {
  Settings settings = settings_of(options);
  if (settings.max_pending_bytes < settings.max_message_bytes)
    return {"max_pending_bytes", "must be at least max_message_bytes (" + std::to_string(settings.max_message_bytes) +
                                     "), or no message could arrive"};
  return {};
}

std::pair<std::string_view, std::string> load(CodecOptions& options) {
  auto files = options.extra.value("descriptors", std::vector<std::string>());
  if (files.empty()) return {};  // no descriptors: messages travel as payload bytes
  std::string error;
  auto descriptors = Descriptors::load(files, error);
  if (!descriptors) return {"descriptors", error};
  if (descriptors->method_count() == 0) return {"descriptors", "the descriptor sets declare no service method"};
  options.state = std::move(descriptors);
  return {};
}

}  // namespace

Settings settings_of(const CodecOptions& options) {
  Settings s;
  const Json& extra = options.extra;
  s.max_message_bytes = extra.value("max_message_bytes", s.max_message_bytes);
  s.max_concurrent_streams = extra.value("max_concurrent_streams", s.max_concurrent_streams);
  s.max_header_list_bytes = extra.value("max_header_list_bytes", s.max_header_list_bytes);
  s.initial_window_bytes = extra.value("initial_window_bytes", s.initial_window_bytes);
  s.max_pending_bytes = extra.value("max_pending_bytes", s.max_pending_bytes);
  s.max_resets = extra.value("max_resets", s.max_resets);
  s.resets_per_second = extra.value("resets_per_second", s.resets_per_second);
  s.unwrap = extra.value("unwrap", false);
  return s;
}

const CodecInfo kInfo = {
    .name = "grpc",
    .make_server = &make_server_codec,
    .make_client = &make_client_codec,
    .options = kOptions,
    .check = &check,
    .load = &load,
    .alpn = "h2",
};

}  // namespace rpcgate::codec::grpc
