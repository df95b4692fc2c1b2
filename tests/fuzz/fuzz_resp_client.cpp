// libFuzzer target for the RESP client codec (replies from an upstream): decoding must not crash
// or trip a sanitizer, and must give the same results whole, in reads of input-chosen sizes, and
// byte at a time. Every decoded response is re-encoded by the server codec.
//
// Input layout: [options byte][k][k read sizes][stream].
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codecs/resp/resp_codec.h"

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

std::string transcript(std::string_view stream, std::string_view sizes, const CodecOptions& options) {
  auto codec = rpcgate::codec::resp::make_client_codec(options);
  auto server = rpcgate::codec::resp::make_server_codec({});
  std::string log, buffer;
  size_t at = 0, read = 0, consumed_total = 0;
  while (at < stream.size()) {
    size_t n = sizes.empty() ? stream.size()
                             : 1 + static_cast<uint8_t>(sizes[read++ % sizes.size()]) % 32;
    n = std::min(n, stream.size() - at);
    buffer.append(stream.substr(at, n));
    at += n;
    for (;;) {
      Response response;
      DecodeResult r = codec->decode(buffer, response);
      if (r.status == DecodeStatus::kNeedMore) {
        if (r.consumed != 0) __builtin_trap();
        break;
      }
      if (r.status == DecodeStatus::kRequest) __builtin_trap();
      if (r.consumed > buffer.size()) __builtin_trap();
      if ((r.status == DecodeStatus::kBroken) != (r.consumed == 0)) __builtin_trap();
      std::string wire;
      server->encode(response, wire);
      log += std::to_string(static_cast<int>(r.status)) + " " + std::to_string(r.consumed) + " " +
             response.status + " " + response.message + " " +
             response.result.dump(-1, ' ', false, Json::error_handler_t::replace) + " -> " + wire + "\n";
      consumed_total += r.consumed;
      buffer.erase(0, r.consumed);
      if (r.status == DecodeStatus::kBroken) return log + "broken\n";
    }
  }
  if (consumed_total + buffer.size() != stream.size()) __builtin_trap();
  return log;
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

  const std::string whole = transcript(stream, {}, options);
  if (!sizes.empty() && transcript(stream, sizes, options) != whole) __builtin_trap();
  if (stream.size() <= 1024 && transcript(stream, std::string_view("\0", 1), options) != whole)
    __builtin_trap();
  return 0;
}
