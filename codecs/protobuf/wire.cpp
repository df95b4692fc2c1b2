// Bounded parsing and in-place serialization of rpcgate.v1 messages.
#include "codecs/protobuf/wire.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <cstring>

#include "codecs/framing.h"
#include "rpcgate.pb.h"

namespace rpcgate::codec::protobuf {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;

constexpr int kPayloadField = 4;
static_assert(rpcgate::v1::Request::kPayloadFieldNumber == kPayloadField);
static_assert(rpcgate::v1::Response::kPayloadFieldNumber == kPayloadField);
constexpr uint8_t kPayloadTag = kPayloadField << 3 | 2;  // wire type 2: length-delimited

}  // namespace

size_t max_body_bytes(const Limits& limits) { return std::min(limits.max_frame_bytes, static_cast<size_t>(INT_MAX)); }

int recursion_limit(size_t max_depth) {
  // The params/result Value is one level; each container adds at most three; one level spare.
  constexpr size_t kCeiling = (INT_MAX - 4) / 3;
  return static_cast<int>(3 * std::min(max_depth, kCeiling) + 4);
}

bool parse_message(std::string_view body, int recursion_limit, google::protobuf::MessageLite& message) {
  CodedInputStream input(reinterpret_cast<const uint8_t*>(body.data()), static_cast<int>(body.size()));
  input.SetRecursionLimit(recursion_limit);
  // Protobuf logs each string that is not UTF-8 before refusing it. A codec does not log (the
  // caller answers and counts the bad frame), and a peer must not be able to flood the log.
  google::protobuf::LogSilencer quiet;
  // ParseFromCodedStream stops at a zero or end-group tag; the whole body must be the message.
  return message.ParseFromCodedStream(&input) && input.ConsumedEntireMessage();
}

bool write_frame(const google::protobuf::MessageLite& message, std::string_view payload, std::string& out) {
  size_t message_bytes = message.ByteSizeLong();  // also caches the sizes serializing needs
  if (message_bytes > static_cast<size_t>(INT_MAX)) return false;
  size_t payload_bytes = payload.empty() ? 0 : 1 + CodedOutputStream::VarintSize64(payload.size()) + payload.size();
  size_t body = message_bytes + payload_bytes;
  if (body > kMaxPrefixedBody) return false;

  size_t start = out.size();
  out.resize(start + kPrefixBytes + body);
  write_length(out.data() + start, static_cast<uint32_t>(body), kByteOrder);
  auto* p = reinterpret_cast<uint8_t*>(out.data() + start + kPrefixBytes);
  p = message.SerializeWithCachedSizesToArray(p);
  if (!payload.empty()) {
    *p++ = kPayloadTag;
    p = CodedOutputStream::WriteVarint64ToArray(payload.size(), p);
    std::memcpy(p, payload.data(), payload.size());
  }
  return true;
}

}  // namespace rpcgate::codec::protobuf
