// libFuzzer target for the json client codec (what an upstream sends back): any byte stream must
// decode the same whole as in pieces (sizes taken from the input) and never crash.
// Input: byte 0 = flags (bit 0: big-endian lengths), bytes 1-4 = piece sizes, then the stream.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codecs/json/json_codec.h"
#include "tests/support/codec_driver.h"
#include "tests/support/fuzz_codec.h"

using namespace rpcgate;
using namespace rpcgate::codec;

namespace {

constexpr size_t kHeaderBytes = 5;

std::string run(std::string_view stream, const test::Reads& pieces, uint8_t flags) {
  CodecOptions o = test::with_limits(4096, 8);
  o.length_byte_order = (flags & 1) ? ByteOrder::kBig : ByteOrder::kLittle;
  return test::fuzz::client_transcript(*json::make_client_codec(o), stream, pieces);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = test::fuzz::split_input(data, size, kHeaderBytes, kHeaderBytes - 1, 64);
  if (!input) return 0;
  const uint8_t flags = static_cast<uint8_t>(input->header[0]);
  auto transcript = [&](std::string_view s, const test::Reads& reads) { return run(s, reads, flags); };
  test::fuzz::check_same_in_pieces(input->stream, {input->reads, {1}}, transcript);
  return 0;
}
