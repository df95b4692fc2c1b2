// libFuzzer target for the protobuf server codec: any byte stream must decode the same whole as in
// pieces (sizes taken from the input), never crash, and every decoded request, encoded back as a
// response, must read back through the client codec unchanged.
// Input: bytes 0-3 = piece sizes, then the stream.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/json/json_writer.h"
#include "codecs/protobuf/protobuf_codec.h"
#include "tests/support/codec_driver.h"

using namespace rpcgate;
using namespace rpcgate::codec;

namespace {

constexpr size_t kHeaderBytes = 4;

CodecOptions options_for(size_t max_frame_bytes) {
  CodecOptions o;
  o.limits.max_frame_bytes = max_frame_bytes;
  o.limits.max_depth = 8;
  return o;
}

// Text, not Json equality: a NaN number must compare equal to itself (both print as null).
std::string text_of(const Json& value) {
  std::string out;
  json::write_json(value, out);
  return out;
}

std::string text_of(const Response& r) {
  return std::string(error_code_name(r.error)) + '\n' + r.message + '\n' + r.kind + '\n' +
         text_of(r.result) + '\n' + r.payload + '\n' + (r.id ? std::to_string(*r.id) : "");
}

void check_round_trip(ServerCodec& server, ClientCodec& client, const Response& sent) {
  std::string wire;
  server.encode(sent, wire);
  Response got;
  DecodeResult result = client.decode(wire, got);
  if (result.status != DecodeStatus::kAnswered || result.consumed != wire.size()) __builtin_trap();
  Response expected = sent;
  if (!expected.id) expected.id = 0;
  if (text_of(got) != text_of(expected)) __builtin_trap();
}

std::vector<std::string> run(std::string_view stream, const test::Reads& pieces, bool round_trip) {
  auto server = protobuf::make_server_codec(options_for(4096));
  auto client = protobuf::make_client_codec(options_for(1u << 20));
  std::vector<std::string> outcomes;
  auto on_result = [&](DecodeResult result, const Request& request, const Response& reply) {
    if (result.status == DecodeStatus::kBroken) {
      if (!reply.is_error() || reply.id != 0u) __builtin_trap();
      if (round_trip) check_round_trip(*server, *client, reply);
      outcomes.push_back("broken\n" + text_of(reply));
      return;
    }
    // A frame that parses but asks badly is answered by the codec with a BAD_REQUEST.
    if (result.status == DecodeStatus::kAnswered) {
      if (reply.error != ErrorCode::kBadRequest) __builtin_trap();
      if (round_trip) check_round_trip(*server, *client, reply);
      outcomes.push_back("answered\n" + text_of(reply));
      return;
    }
    if (result.status != DecodeStatus::kRequest || request.method.empty()) __builtin_trap();
    if (round_trip) {
      Response echo;
      echo.id = request.id;
      echo.kind = request.method;
      echo.result = request.params;
      echo.payload = request.payload;
      check_round_trip(*server, *client, echo);
    }
    outcomes.push_back("request\n" + test::describe(request));
  };
  test::Fed fed = test::feed_server(*server, stream, pieces, on_result);
  if (!fed.breach.empty()) __builtin_trap();
  if (!fed.broken) outcomes.push_back("waiting " + std::to_string(fed.left));
  return outcomes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return 0;
  const auto* text = reinterpret_cast<const char*>(data);
  const test::Reads pieces = test::reads_of(std::string_view(text, kHeaderBytes), 64);
  const std::string_view stream(text + kHeaderBytes, size - kHeaderBytes);
  // Round trips on the whole run only: the split runs must merely agree with it.
  auto transcript = [](std::string_view s, const test::Reads& reads) {
    return run(s, reads, reads.empty());
  };
  if (!test::first_difference(stream, {pieces, {1}}, transcript).empty()) __builtin_trap();
  return 0;
}
