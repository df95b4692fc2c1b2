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

std::string transcript(std::string_view stream, const rpcgate::test::Reads& reads,
                       const CodecOptions& options) {
  auto codec = rpcgate::codec::resp::make_client_codec(options);
  auto server = rpcgate::codec::resp::make_server_codec({});
  std::string log;
  rpcgate::test::Fed fed = rpcgate::test::feed_client(
      *codec, stream, reads, [&](DecodeResult r, const Response& response) {
        std::string wire;
        server->encode(response, wire);
        log += std::to_string(static_cast<int>(r.status)) + " " + std::to_string(r.consumed) + " " +
               response.status + " " + response.message + " " +
               response.result.dump(-1, ' ', false, Json::error_handler_t::replace) + " -> " +
               wire + "\n";
      });
  if (!fed.breach.empty()) __builtin_trap();
  return fed.broken ? log + "broken\n" : log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const auto* text = reinterpret_cast<const char*>(data);
  const size_t k = data[1] % 16;
  if (size < 2 + k) return 0;
  const std::string_view sizes(text + 2, k);
  const std::string_view stream(text + 2 + k, size - 2 - k);
  const CodecOptions options = client_options(data[0]);

  std::vector<rpcgate::test::Reads> cuts;
  if (!sizes.empty()) cuts.push_back(rpcgate::test::reads_of(sizes, 32));
  if (stream.size() <= 1024) cuts.push_back({1});  // byte at a time
  auto run = [&](std::string_view s, const rpcgate::test::Reads& reads) {
    return transcript(s, reads, options);
  };
  if (!rpcgate::test::first_difference(stream, cuts, run).empty()) __builtin_trap();
  return 0;
}
