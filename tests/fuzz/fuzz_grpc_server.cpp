// libFuzzer target for the grpc server codec (an nghttp2 session fed one frame per decode): any
// byte stream must decode, and be answered, the same whole as in pieces (sizes taken from the
// input), never crash, and keep the decode contract. Every request is answered (its params as
// the result), so the encoder and nghttp2's output side run too; the transcript holds every
// result and every byte written back.
// Input: bytes 0-3 = piece sizes, then the stream.
//
// No binary seed is committed: with RPCGATE_FUZZ_WRITE_SEED=DIR the target writes its seeds (a
// python-grpc 1.51 unary call captured on the wire, and a reflection stream made by nghttp2's
// client session) into DIR and exits; the build does that into the corpus it runs with
// (tests/fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/grpc/grpc_codec.h"
#include "tests/support/codec_driver.h"
#include "tests/support/fuzz_codec.h"
#include "tests/support/grpc_peer.h"
#include "tests/support/pi_descriptors.h"

using namespace rpcgate;
using namespace rpcgate::codec;

namespace {

constexpr size_t kHeaderBytes = 4;

CodecOptions g_options;

std::string run(std::string_view stream, const test::Reads& pieces) {
  auto server = grpc::make_server_codec(g_options);
  std::string transcript;
  std::string out;
  server->take_output(out);
  auto on_result = [&](DecodeResult result, const Request& request, const Response& reply) {
    transcript += std::to_string(static_cast<int>(result.status)) + " ";
    if (result.status == DecodeStatus::kRequest) {
      if (!request.id || request.method.empty()) __builtin_trap();
      transcript += test::describe(request) + "\n";
      Response answer;
      answer.id = request.id;
      answer.result = request.params;
      answer.payload = request.payload;
      server->encode(answer, out);
    } else if (result.status == DecodeStatus::kAnswered || result.status == DecodeStatus::kBroken) {
      if (!reply.is_error() && reply.payload.empty()) __builtin_trap();
      transcript += test::fuzz::text_of(reply) + "\n";
      server->encode(reply, out);
    }
  };
  test::Fed fed = test::feed_server(*server, stream, pieces, on_result);
  if (!fed.breach.empty()) __builtin_trap();
  server->take_output(out);
  transcript += "left " + std::to_string(fed.left) + "\nout " + out;
  return transcript;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  test::GrpcPeer reflection;  // a reflection stream asking for a list and a symbol's file
  reflection.call("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                  test::GrpcPeer::prefixed(std::string("\x3a\x00", 2)) +
                      test::GrpcPeer::prefixed(std::string("\x22\x0fpi.PiCalculator", 17)));
  test::fuzz::write_seeds_if_asked(
      {{"python_grpc_unary_call", std::string("\0\0\0\0", 4) + test::from_hex(test::kCapturedPythonCallHex)},
       {"reflection_stream", std::string("\0\0\0\0", 4) + reflection.output()}});
  test::load_fuzz_grpc_options(g_options);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = test::fuzz::split_input(data, size, kHeaderBytes, kHeaderBytes, 64);
  if (!input) return 0;
  test::fuzz::check_same_in_pieces(input->stream, {input->reads, {1}}, run);
  return 0;
}
