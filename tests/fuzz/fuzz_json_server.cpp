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
#include "tests/support/codec_driver.h"
#include "tests/support/fuzz_codec.h"

using namespace rpcgate;
using namespace rpcgate::codec;

namespace {

constexpr size_t kHeaderBytes = 5;

CodecOptions options_for(uint8_t flags, size_t max_frame_bytes) {
  CodecOptions o = test::with_limits(max_frame_bytes, 8);
  o.length_byte_order = (flags & 1) ? ByteOrder::kBig : ByteOrder::kLittle;
  return o;
}

// The response of a request, through the server's encoder and the client's decoder, must come
// back as it was sent.
void check_round_trip(ServerCodec& server, ClientCodec& client, const Response& sent) {
  Response expected = sent;
  if (!expected.is_error() && expected.kind.empty()) expected.kind = "result";
  test::fuzz::check_round_trip(server, client, sent, expected);
}

// Feeds `stream` in pieces of the given sizes (cycled; none = whole) and records every outcome.
std::vector<std::string> run(std::string_view stream, const test::Reads& pieces, uint8_t flags, bool round_trip) {
  auto server = json::make_server_codec(options_for(flags, 4096));
  auto client = json::make_client_codec(options_for(flags, 1u << 20));
  std::vector<std::string> outcomes;
  auto on_result = [&](DecodeResult result, const Request& request, const Response& reply) {
    if (result.status == DecodeStatus::kRequest) {
      if (round_trip) {
        Response echo;
        echo.id = request.id;
        echo.kind = "echo";
        echo.result = request.params;
        check_round_trip(*server, *client, echo);
      }
      outcomes.push_back("request\n" + test::describe(request));
      return;
    }
    if (!reply.is_error()) __builtin_trap();
    if (round_trip) check_round_trip(*server, *client, reply);
    const bool broken = result.status == DecodeStatus::kBroken;
    outcomes.push_back((broken ? "broken\n" : "answered\n") + test::fuzz::text_of(reply));
  };
  test::Fed fed = test::feed_server(*server, stream, pieces, on_result);
  if (!fed.breach.empty()) __builtin_trap();
  if (!fed.broken) outcomes.push_back("waiting " + std::to_string(fed.left));
  return outcomes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = test::fuzz::split_input(data, size, kHeaderBytes, kHeaderBytes - 1, 64);
  if (!input) return 0;
  const uint8_t flags = static_cast<uint8_t>(input->header[0]);
  // Round trips on the whole run only: the split runs must merely agree with it.
  auto transcript = [&](std::string_view s, const test::Reads& reads) { return run(s, reads, flags, reads.empty()); };
  test::fuzz::check_same_in_pieces(input->stream, {input->reads, {1}}, transcript);
  return 0;
}
