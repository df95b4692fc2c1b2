// libFuzzer target for the protobuf client codec (what an upstream sends back): any byte stream
// must decode the same whole as in pieces (sizes taken from the input) and never crash.
// Input: bytes 0-3 = piece sizes, then the stream.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/json/json_writer.h"
#include "codecs/protobuf/protobuf_codec.h"

using namespace rpcgate;
using namespace rpcgate::codec;

namespace {

constexpr size_t kHeaderBytes = 4;

std::string text_of(const Response& r) {
  std::string text = std::string(error_code_name(r.error)) + '\n' + r.message + '\n' + r.kind +
                     '\n' + r.payload + '\n';
  json::write_json(r.result, text);  // text, so a NaN equals itself
  if (r.id) text += '\n' + std::to_string(*r.id);
  return text;
}

std::vector<std::string> run(std::string_view stream, const std::vector<size_t>& pieces) {
  CodecOptions o;
  o.limits.max_frame_bytes = 4096;
  o.limits.max_depth = 8;
  auto client = protobuf::make_client_codec(o);
  std::vector<std::string> outcomes;
  std::string buffer;
  Response response;
  size_t at = 0;
  for (size_t i = 0; at < stream.size(); ++i) {
    size_t n = pieces.empty() ? stream.size() : pieces[i % pieces.size()];
    n = std::min(n, stream.size() - at);
    buffer.append(stream.substr(at, n));
    at += n;
    for (;;) {
      DecodeResult result = client->decode(buffer, response);
      if (result.status == DecodeStatus::kNeedMore) {
        if (result.consumed != 0) __builtin_trap();
        break;
      }
      if (result.status == DecodeStatus::kRequest) __builtin_trap();
      if (result.status == DecodeStatus::kBroken) {
        if (result.consumed != 0 || !response.is_error()) __builtin_trap();
        outcomes.push_back("broken\n" + text_of(response));
        return outcomes;
      }
      if (result.consumed == 0 || result.consumed > buffer.size()) __builtin_trap();
      buffer.erase(0, result.consumed);
      outcomes.push_back("answered\n" + text_of(response));
    }
  }
  outcomes.push_back("waiting " + std::to_string(buffer.size()));
  return outcomes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return 0;
  std::vector<size_t> pieces;
  for (size_t i = 0; i < kHeaderBytes; ++i) pieces.push_back(data[i] % 64 + 1);
  std::string_view stream(reinterpret_cast<const char*>(data + kHeaderBytes), size - kHeaderBytes);
  auto whole = run(stream, {});
  if (run(stream, pieces) != whole) __builtin_trap();
  if (run(stream, {1}) != whole) __builtin_trap();
  return 0;
}
