// rpcgate.v1 pings over the protobuf framing (4-byte big-endian length, then one message),
// encoded and decoded by hand rather than with the classes generated from rpcgate.proto: a ping
// Request is an id and a method behind two field tags, and a Response has five fields to look at.
// By hand, the per-request path allocates nothing (a generated Response allocates its kind string
// on every parse), and the codec is checked against an independent reading of the wire format,
// not against the library it is built on.
#include <cstring>

#include "bench/loadgen/workload.h"

namespace rpcgate::loadgen {
namespace {

constexpr std::string_view kMethod = "ping";
constexpr std::string_view kKind = "pong";
constexpr size_t kMaxVarintBytes = 10;

enum Field : uint64_t { kId = 1, kKindField = 2, kResult = 3, kPayload = 4, kError = 5 };
enum WireType : uint64_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

size_t put_varint(char* out, uint64_t value) {
  size_t n = 0;
  while (value >= 0x80) {
    out[n++] = static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out[n++] = static_cast<char>(value);
  return n;
}

bool get_varint(std::string_view in, size_t& pos, uint64_t& value) {
  value = 0;
  for (size_t i = 0; i < kMaxVarintBytes && pos < in.size(); ++i) {
    auto byte = static_cast<unsigned char>(in[pos++]);
    value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// What a Response holds, as far as a ping's answer is concerned.
struct ResponseFields {
  uint64_t id = 0;
  std::string_view kind;
  bool result = false, payload = false, error = false;
};

// Reads every field of a Response body, skipping unknown ones as protobuf readers do; false when
// the bytes are not a well-formed message or a known field has the wrong wire type.
bool decode_response(std::string_view body, ResponseFields& out) {
  size_t pos = 0;
  while (pos < body.size()) {
    uint64_t key = 0, value = 0, size = 0;
    if (!get_varint(body, pos, key)) return false;
    uint64_t field = key >> 3, wire = key & 7;
    bool known = field >= kId && field <= kError;
    if (field == 0 || (known && wire != (field == kId ? kVarint : kLengthDelimited))) return false;
    switch (wire) {
      case kVarint:
        if (!get_varint(body, pos, value)) return false;
        if (field == kId) out.id = value;
        continue;
      case kFixed64:
        size = 8;
        break;
      case kFixed32:
        size = 4;
        break;
      case kLengthDelimited:
        if (!get_varint(body, pos, size)) return false;
        break;
      default:
        return false;  // groups: not in proto3
    }
    if (size > body.size() - pos) return false;
    std::string_view bytes = body.substr(pos, size);
    pos += size;
    if (field == kKindField) out.kind = bytes;
    if (field == kResult) out.result = true;
    if (field == kPayload) out.payload = !bytes.empty();
    if (field == kError) out.error = true;
  }
  return true;
}

class ProtobufWorkload final : public Workload {
 public:
  size_t max_request_bytes() const override { return 4 + 1 + kMaxVarintBytes + 2 + kMethod.size(); }

  size_t write(uint64_t, InFlightRequest& request, char* out) override {
    char* body = out + 4;
    size_t n = 0;
    body[n++] = static_cast<char>(kId << 3 | kVarint);
    n += put_varint(body + n, request.id);
    body[n++] = static_cast<char>(kKindField << 3 | kLengthDelimited);  // Request.method is field 2 too
    body[n++] = static_cast<char>(kMethod.size());
    std::memcpy(body + n, kMethod.data(), kMethod.size());
    n += kMethod.size();
    for (size_t i = 0; i < 4; ++i) out[i] = static_cast<char>((n >> (8 * (3 - i))) & 0xff);  // big-endian
    return 4 + n;
  }

  Checked check(std::string_view input, const InFlightRequest*) override {
    if (input.size() < 4) return {};
    uint32_t length = 0;
    for (size_t i = 0; i < 4; ++i) length = length << 8 | static_cast<unsigned char>(input[i]);
    if (length > kMaxFrameBytes) return {Verdict::kBroken, 0, 0, "length prefix above 16 MiB"};
    if (input.size() - 4 < length) return {};
    size_t consumed = 4 + static_cast<size_t>(length);
    ResponseFields answer;
    if (!decode_response(input.substr(4, length), answer))
      return {Verdict::kBad, consumed, answer.id, "answer is not a valid rpcgate.v1.Response"};
    if (answer.error) return {Verdict::kBad, consumed, answer.id, "error answer"};
    if (answer.kind != kKind) return {Verdict::kBad, consumed, answer.id, "kind is not \"pong\""};
    if (answer.result || answer.payload) return {Verdict::kBad, consumed, answer.id, "ping answer carries a result"};
    return {Verdict::kGood, consumed, answer.id, {}};
  }

  bool answers_in_order() const override { return false; }
};

}  // namespace

std::unique_ptr<Workload> make_protobuf_workload() { return std::make_unique<ProtobufWorkload>(); }

}  // namespace rpcgate::loadgen
