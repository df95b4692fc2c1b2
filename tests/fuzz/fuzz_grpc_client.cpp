// libFuzzer target for the grpc client codec (an nghttp2 client session fed one frame per decode):
// after three calls are encoded (streams 1, 3 and 5), any reply byte stream must decode the same
// whole as in pieces (sizes taken from the input), never crash, keep the decode contract, and
// write the same bytes back (acknowledgements, window updates).
// Input: bytes 0-3 = piece sizes, then the stream.
//
// No binary seed is committed: with RPCGATE_FUZZ_WRITE_SEED=DIR the target writes its seed (the
// grpc listener's own answers to those three calls, made by the server codec) into DIR and exits;
// the build does that into the corpus it runs with (tests/fuzz/CMakeLists.txt).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/grpc/grpc_codec.h"
#include "tests/support/fuzz_codec.h"
#include "tests/support/grpc_peer.h"
#include "tests/support/pi_descriptors.h"

using namespace rpcgate;
using namespace rpcgate::codec;

namespace {

constexpr size_t kHeaderBytes = 4;

CodecOptions g_options;

Request call(uint64_t id, int n) {
  Request request;
  request.id = id;
  request.method = "pi.PiCalculator/Calc";
  request.params = n;
  request.meta = {{"timeout_ms", "100"}};
  return request;
}

std::unique_ptr<ClientCodec> client_with_calls(std::string& out) {
  auto client = grpc::make_client_codec(g_options);
  client->connected_to("127.0.0.1:1");
  for (uint64_t id = 1; id <= 3; ++id) client->encode(call(id, static_cast<int>(id) * 100), out);
  return client;
}

std::string run(std::string_view stream, const test::Reads& pieces) {
  std::string out;
  auto client = client_with_calls(out);
  std::string transcript;
  std::string buffer;
  size_t fed = 0;
  bool stopped = false;
  for (size_t i = 0; fed < stream.size() && !stopped; ++i) {
    // No pieces: the stream in one read, as codec_driver.h feeds it.
    const size_t want = pieces.empty() ? stream.size() : std::max<size_t>(pieces[i % pieces.size()], 1);
    const size_t n = std::min(want, stream.size() - fed);
    buffer.append(stream.substr(fed, n));
    fed += n;
    for (;;) {
      Response response;
      const DecodeResult result = client->decode(buffer, response);
      if (result.consumed > buffer.size()) __builtin_trap();
      if (result.status == DecodeStatus::kNeedMore) {
        if (result.consumed != 0) __builtin_trap();
        break;
      }
      if (result.status == DecodeStatus::kRequest || result.status == DecodeStatus::kHangUp ||
          result.status == DecodeStatus::kOversized)
        __builtin_trap();
      if (result.status == DecodeStatus::kConsumed && result.consumed == 0) __builtin_trap();
      transcript += std::to_string(static_cast<int>(result.status)) + " ";
      if (result.status != DecodeStatus::kConsumed) transcript += test::fuzz::text_of(response) + "\n";
      if (result.status == DecodeStatus::kBroken) {
        if (result.consumed != 0) __builtin_trap();
        stopped = true;
        break;
      }
      buffer.erase(0, result.consumed);
    }
    client->take_output(out);
  }
  // After kBroken nothing more is read, so what is left depends on where the reads stopped.
  transcript += (stopped ? std::string("stopped") : "left " + std::to_string(buffer.size())) + " in flight " +
                std::to_string(client->max_in_flight()) + "\nout " + out;
  return transcript;
}

// The listener's answers to the three calls: a value, an error, and a value, on their streams.
std::string seed() {
  std::string to_server;
  auto client = client_with_calls(to_server);
  auto server = grpc::make_server_codec(g_options);
  std::string to_client;
  server->take_output(to_client);
  for (;;) {
    Request request;
    Response reply;
    const DecodeResult result = server->decode(to_server, request, reply);
    if (result.status == DecodeStatus::kNeedMore || result.status == DecodeStatus::kBroken) break;
    to_server.erase(0, result.consumed);
    if (result.status != DecodeStatus::kRequest) continue;
    Response answer;
    answer.id = request.id;
    if (request.params == 200)
      answer.set_error(ErrorCode::kBadRequest, "n is even");
    else
      answer.result = 3.14;
    server->encode(answer, to_client);
  }
  server->take_output(to_client);
  return std::string("\0\0\0\0", 4) + to_client;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  test::load_fuzz_grpc_options(g_options);
  test::fuzz::write_seeds_if_asked({{"listener_answers", seed()}});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = test::fuzz::split_input(data, size, kHeaderBytes, kHeaderBytes, 64);
  if (!input) return 0;
  test::fuzz::check_same_in_pieces(input->stream, {input->reads, {1}}, run);
  return 0;
}
