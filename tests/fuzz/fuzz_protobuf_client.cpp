// libFuzzer target for the protobuf client codec (what an upstream sends back): any byte stream
// must decode the same whole as in pieces (sizes taken from the input) and never crash.
// Input: bytes 0-3 = piece sizes, then the stream.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codecs/json/json_writer.h"
#include "codecs/protobuf/protobuf_codec.h"
#include "tests/support/codec_driver.h"

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

std::string run(std::string_view stream, const test::Reads& pieces) {
  CodecOptions o;
  o.limits.max_frame_bytes = 4096;
  o.limits.max_depth = 8;
  auto client = protobuf::make_client_codec(o);
  test::Fed fed;
  auto text = [](const Response& response) { return text_of(response); };
  std::string transcript = test::transcript(*client, stream, pieces, &fed, text);
  if (!fed.breach.empty()) __builtin_trap();
  return transcript;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return 0;
  const auto* text = reinterpret_cast<const char*>(data);
  const test::Reads pieces = test::reads_of(std::string_view(text, kHeaderBytes), 64);
  const std::string_view stream(text + kHeaderBytes, size - kHeaderBytes);
  if (!test::first_difference(stream, {pieces, {1}}, run).empty()) __builtin_trap();
  return 0;
}
