// libFuzzer target for the protobuf client codec (what an upstream sends back): any byte stream
// must decode the same whole as in pieces (sizes taken from the input) and never crash.
// Input: bytes 0-3 = piece sizes, then the stream.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codecs/protobuf/protobuf_codec.h"
#include "tests/support/codec_driver.h"
#include "tests/support/fuzz_codec.h"

using namespace rpcgate;
using namespace rpcgate::codec;

namespace {

constexpr size_t kHeaderBytes = 4;

std::string run(std::string_view stream, const test::Reads& pieces) {
  return test::fuzz::client_transcript(*protobuf::make_client_codec(test::with_limits(4096, 8)), stream, pieces);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = test::fuzz::split_input(data, size, kHeaderBytes, kHeaderBytes, 64);
  if (!input) return 0;
  test::fuzz::check_same_in_pieces(input->stream, {input->reads, {1}}, run);
  return 0;
}
