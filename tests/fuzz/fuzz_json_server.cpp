// libFuzzer target for the json server codec: any byte stream must decode the same whole as in
// pieces (sizes taken from the input), never crash, and every decoded request, encoded back as a
// response, must read back through the client codec unchanged.
// Input: byte 0 = flags (bit 0: big-endian lengths), bytes 1-4 = piece sizes, then the stream.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/json/json_codec.h"
#include "codecs/json/json_writer.h"

using namespace rpcgate;
using namespace rpcgate::codec;

namespace {

constexpr size_t kHeaderBytes = 5;

CodecOptions options_for(uint8_t flags, size_t max_frame_bytes) {
  CodecOptions o;
  o.limits.max_frame_bytes = max_frame_bytes;
  o.limits.max_depth = 8;
  o.length_byte_order = (flags & 1) ? ByteOrder::kBig : ByteOrder::kLittle;
  return o;
}

std::string text_of(const Json& value) {
  std::string out;
  json::write_json(value, out);
  return out;
}

std::string text_of(const Request& r) {
  std::string text = r.method + '\n' + text_of(r.params) + '\n';
  if (r.id) text += std::to_string(*r.id);
  for (const auto& [key, value] : r.meta) text += '\n' + key + '=' + value;
  return text;
}

std::string text_of(const Response& r) {
  return std::string(error_code_name(r.error)) + '\n' + r.message + '\n' + r.kind + '\n' +
         text_of(r.result) + '\n' + (r.id ? std::to_string(*r.id) : std::string());
}

// The response of a request, through the server's encoder and the client's decoder, must come
// back as it was sent.
void check_round_trip(ServerCodec& server, ClientCodec& client, const Response& sent) {
  std::string wire;
  server.encode(sent, wire);
  Response got;
  DecodeResult result = client.decode(wire, got);
  if (result.status != DecodeStatus::kAnswered || result.consumed != wire.size()) __builtin_trap();
  Response expected = sent;
  if (!expected.is_error() && expected.kind.empty()) expected.kind = "result";
  if (text_of(got) != text_of(expected)) __builtin_trap();
}

// Feeds `stream` in pieces of the given sizes (cycled; none = whole) and records every outcome.
std::vector<std::string> run(std::string_view stream, const std::vector<size_t>& pieces,
                             uint8_t flags, bool round_trip) {
  auto server = json::make_server_codec(options_for(flags, 4096));
  auto client = json::make_client_codec(options_for(flags, 1u << 20));
  std::vector<std::string> outcomes;
  std::string buffer;
  Request request;
  Response reply;
  size_t at = 0;
  for (size_t i = 0; at < stream.size(); ++i) {
    size_t n = pieces.empty() ? stream.size() : pieces[i % pieces.size()];
    n = std::min(n, stream.size() - at);
    buffer.append(stream.substr(at, n));
    at += n;
    for (;;) {
      DecodeResult result = server->decode(buffer, request, reply);
      if (result.status == DecodeStatus::kNeedMore) {
        if (result.consumed != 0) __builtin_trap();
        break;
      }
      if (result.status == DecodeStatus::kBroken) {
        if (result.consumed != 0 || !reply.is_error()) __builtin_trap();
        if (round_trip) check_round_trip(*server, *client, reply);
        outcomes.push_back("broken\n" + text_of(reply));
        return outcomes;
      }
      if (result.consumed == 0 || result.consumed > buffer.size()) __builtin_trap();
      buffer.erase(0, result.consumed);
      if (result.status == DecodeStatus::kAnswered) {
        if (!reply.is_error()) __builtin_trap();
        if (round_trip) check_round_trip(*server, *client, reply);
        outcomes.push_back("answered\n" + text_of(reply));
      } else {
        if (round_trip) {
          Response echo;
          echo.id = request.id;
          echo.kind = "echo";
          echo.result = request.params;
          check_round_trip(*server, *client, echo);
        }
        outcomes.push_back("request\n" + text_of(request));
      }
    }
  }
  outcomes.push_back("waiting " + std::to_string(buffer.size()));
  return outcomes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return 0;
  uint8_t flags = data[0];
  std::vector<size_t> pieces;
  for (size_t i = 1; i < kHeaderBytes; ++i) pieces.push_back(data[i] % 64 + 1);
  std::string_view stream(reinterpret_cast<const char*>(data + kHeaderBytes), size - kHeaderBytes);
  auto whole = run(stream, {}, flags, true);
  if (run(stream, pieces, flags, false) != whole) __builtin_trap();
  if (run(stream, {1}, flags, false) != whole) __builtin_trap();
  return 0;
}
