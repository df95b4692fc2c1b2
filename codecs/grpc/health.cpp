#include "codecs/grpc/health.h"

namespace rpcgate::codec::grpc {

std::string health_response(Serving status) {
  if (status == Serving::kUnknown) return {};
  return {'\x08', static_cast<char>(status)};
}

Serving serving_of(const Json& result) {
  if (result == "SERVING") return Serving::kServing;
  if (result == "NOT_SERVING") return Serving::kNotServing;
  return Serving::kUnknown;
}

bool health_service(std::string_view bytes, std::string& service) {
  service.clear();
  size_t at = 0;
  while (at < bytes.size()) {
    auto tag = static_cast<uint8_t>(bytes[at++]);
    if (tag != 0x0A) return false;  // only field 1, length-delimited, is expected
    uint64_t length = 0;
    for (int shift = 0;; shift += 7) {
      if (at >= bytes.size() || shift > 28) return false;
      auto byte = static_cast<uint8_t>(bytes[at++]);
      length |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) break;
    }
    if (length > bytes.size() - at) return false;
    service.assign(bytes.substr(at, length));
    at += length;
  }
  return true;
}

}  // namespace rpcgate::codec::grpc
