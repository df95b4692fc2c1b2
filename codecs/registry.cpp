// The table of wire formats the gateway knows. Adding a codec adds one line here.
#include <array>

#include "codecs/codec.h"
#include "codecs/json/json_codec.h"
#include "codecs/protobuf/protobuf_codec.h"
#include "codecs/resp/resp_codec.h"

namespace rpcgate::codec {
namespace {

const std::array<CodecInfo, 3> kCodecs = {{
    {"json", &json::make_server_codec, &json::make_client_codec},
    {"resp", &resp::make_server_codec, &resp::make_client_codec},
    {"protobuf", &protobuf::make_server_codec, &protobuf::make_client_codec},
}};

}  // namespace

const CodecInfo* find_codec(std::string_view name) {
  for (const auto& info : kCodecs)
    if (info.name == name) return &info;
  return nullptr;
}

std::string codec_names() {
  std::string names;
  for (const auto& info : kCodecs) {
    if (!names.empty()) names += ", ";
    names += info.name;
  }
  return names;
}

}  // namespace rpcgate::codec
