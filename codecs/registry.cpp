// The table of wire formats the gateway knows. Adding a codec adds one line here.
#include <vector>

#include "codecs/codec.h"
#include "codecs/grpc/grpc_codec.h"
#include "codecs/json/json_codec.h"
#include "codecs/protobuf/protobuf_codec.h"
#include "codecs/resp/resp_codec.h"

namespace rpcgate::codec {
namespace {

const CodecInfo* const kBuiltIn[] = {
    &json::kInfo,
    &resp::kInfo,
    &protobuf::kInfo,
    &grpc::kInfo,
};

// Codecs registered at run time (register_codec), after the built-in ones.
std::vector<const CodecInfo*>& registered() {
  static std::vector<const CodecInfo*> codecs;
  return codecs;
}

}  // namespace

std::vector<const CodecInfo*> all_codecs() {
  std::vector<const CodecInfo*> codecs(std::begin(kBuiltIn), std::end(kBuiltIn));
  codecs.insert(codecs.end(), registered().begin(), registered().end());
  return codecs;
}

const CodecInfo* find_codec(std::string_view name) {
  for (const CodecInfo* info : kBuiltIn)
    if (info->name == name) return info;
  for (const CodecInfo* info : registered())
    if (info->name == name) return info;
  return nullptr;
}

bool register_codec(const CodecInfo& info) {
  if (find_codec(info.name) != nullptr) return false;
  registered().push_back(&info);
  return true;
}

std::string codec_names() {
  std::string names;
  for (const CodecInfo* info : all_codecs()) {
    if (!names.empty()) names += ", ";
    names += info->name;
  }
  return names;
}

}  // namespace rpcgate::codec
