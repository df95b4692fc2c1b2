// libFuzzer target for the protobuf server codec: any byte stream must decode the same whole as in
// pieces (sizes taken from the input), never crash, and every decoded request, encoded back as a
// response, must read back through the client codec unchanged.
// Input: bytes 0-3 = piece sizes, then the stream.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/protobuf/protobuf_codec.h"
#include "tests/support/codec_driver.h"
#include "tests/support/fuzz_codec.h"

using namespace rpcgate;
using namespace rpcgate::codec;

namespace {

constexpr size_t kHeaderBytes = 4;

// The response of a request, through the server's encoder and the client's decoder, must come
// back as it was sent.
void check_round_trip(ServerCodec& server, ClientCodec& client, const Response& sent) {
  Response expected = sent;
  if (!expected.id) expected.id = 0;
  test::fuzz::check_round_trip(server, client, sent, expected);
}

std::vector<std::string> run(std::string_view stream, const test::Reads& pieces, bool round_trip) {
  auto server = protobuf::make_server_codec(test::with_limits(4096, 8));
  auto client = protobuf::make_client_codec(test::with_limits(1u << 20, 8));
  std::vector<std::string> outcomes;
  auto on_result = [&](DecodeResult result, const Request& request, const Response& reply) {
    if (result.status == DecodeStatus::kBroken) {
      if (!reply.is_error() || reply.id != 0u) __builtin_trap();
      if (round_trip) check_round_trip(*server, *client, reply);
      outcomes.push_back("broken\n" + test::fuzz::text_of(reply));
      return;
    }
    // A frame that parses but asks badly is answered by the codec with a BAD_REQUEST.
    if (result.status == DecodeStatus::kAnswered) {
      if (reply.error != ErrorCode::kBadRequest) __builtin_trap();
      if (round_trip) check_round_trip(*server, *client, reply);
      outcomes.push_back("answered\n" + test::fuzz::text_of(reply));
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
  const auto input = test::fuzz::split_input(data, size, kHeaderBytes, kHeaderBytes, 64);
  if (!input) return 0;
  // Round trips on the whole run only: the split runs must merely agree with it.
  auto transcript = [](std::string_view s, const test::Reads& reads) { return run(s, reads, reads.empty()); };
  test::fuzz::check_same_in_pieces(input->stream, {input->reads, {1}}, transcript);
  return 0;
}
