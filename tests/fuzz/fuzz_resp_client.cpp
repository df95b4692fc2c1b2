// libFuzzer target for the RESP client codec (replies from an upstream): decoding must not crash
// or trip a sanitizer, and must give the same results whole, in reads of input-chosen sizes, and
// byte at a time. Every decoded response is re-encoded by the server codec.
//
// Input layout: [options byte][k][k read sizes][stream].
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/resp/resp_codec.h"
#include "tests/support/codec_driver.h"
#include "tests/support/fuzz_codec.h"

namespace {

using rpcgate::Json;
using rpcgate::Response;
using rpcgate::codec::CodecOptions;
using rpcgate::codec::DecodeResult;
using rpcgate::codec::DecodeStatus;

CodecOptions client_options(uint8_t selector) {
  CodecOptions options;
  options.limits.max_frame_bytes = 64;
  options.limits.max_request_bytes = 512;
  options.limits.max_elements = 16;
  options.limits.max_depth = 2 + selector % 8;  // sometimes above hiredis's own cap of 8
  return options;
}

std::string transcript(std::string_view stream, const rpcgate::test::Reads& reads, const CodecOptions& options) {
  auto codec = rpcgate::codec::resp::make_client_codec(options);
  auto server = rpcgate::codec::resp::make_server_codec({});
  std::string log;
  rpcgate::test::Fed fed =
      rpcgate::test::feed_client(*codec, stream, reads, [&](DecodeResult r, const Response& response) {
        std::string wire;
        server->encode(response, wire);
        log += std::to_string(static_cast<int>(r.status)) + " " + std::to_string(r.consumed) + " " + response.status +
               " " + response.message + " " + response.result.dump(-1, ' ', false, Json::error_handler_t::replace) +
               " -> " + wire + "\n";
      });
  if (!fed.breach.empty()) __builtin_trap();
  return fed.broken ? log + "broken\n" : log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = rpcgate::test::fuzz::split_resp_input(data, size);
  if (!input) return 0;
  const CodecOptions options = client_options(input->options);
  auto run = [&](std::string_view s, const rpcgate::test::Reads& reads) { return transcript(s, reads, options); };
  rpcgate::test::fuzz::check_same_in_pieces(input->stream, input->cuts, run);
  return 0;
}
