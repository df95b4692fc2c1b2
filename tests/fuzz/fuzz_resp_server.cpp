// libFuzzer target for the RESP server codec: decoding must not crash, leak or trip a sanitizer,
// and must give the same results whole, in reads of input-chosen sizes, and byte at a time.
// Every reply is encoded, and (while the connection speaks RESP2) read back by the client codec.
//
// Input layout: [options byte][k][k read sizes][stream]. Text-friendly, so seeds stay readable.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codecs/resp/resp_codec.h"
#include "codecs/resp/resp_encoder.h"

namespace {

using rpcgate::Json;
using rpcgate::Request;
using rpcgate::Response;
using rpcgate::codec::CodecOptions;
using rpcgate::codec::DecodeResult;
using rpcgate::codec::DecodeStatus;
using rpcgate::codec::RespArgs;

CodecOptions server_options(uint8_t selector) {
  CodecOptions options;
  options.limits.max_frame_bytes = 64;
  options.limits.max_request_bytes = 256;
  options.limits.max_elements = 16;
  options.limits.max_inline_bytes = 64;
  // Params arrays add one level to an argument's JSON; 1 + 4 stays within hiredis's 8 levels,
  // so the client codec can read every reply back.
  options.limits.max_depth = 4;
  options.resp_args = (selector & 1) != 0 ? RespArgs::kStrings : RespArgs::kAuto;
  return options;
}

// The client codec must read one whole reply out of what the server encoded.
void check_reply_readable(std::string_view wire) {
  CodecOptions options;
  options.limits.max_frame_bytes = 1u << 20;
  auto client = rpcgate::codec::resp::make_client_codec(options);
  Response back;
  DecodeResult r = client->decode(wire, back);
  if (r.status != DecodeStatus::kAnswered || r.consumed != wire.size()) __builtin_trap();
}

// Decodes `stream` the way the gateway does, in reads of `sizes` (cycled; empty: one read), and
// returns a transcript of every non-NeedMore result.
std::string transcript(std::string_view stream, std::string_view sizes, const CodecOptions& options) {
  auto codec = rpcgate::codec::resp::make_server_codec(options);
  std::string log, buffer;
  size_t at = 0, read = 0, consumed_total = 0;
  bool resp2 = true;  // the client codec reads RESP2 only
  while (at < stream.size()) {
    size_t n = sizes.empty() ? stream.size()
                             : 1 + static_cast<uint8_t>(sizes[read++ % sizes.size()]) % 32;
    n = std::min(n, stream.size() - at);
    buffer.append(stream.substr(at, n));
    at += n;
    for (;;) {
      Request request;
      Response reply;
      DecodeResult r = codec->decode(buffer, request, reply);
      if (r.status == DecodeStatus::kNeedMore) {
        if (r.consumed != 0) __builtin_trap();
        break;
      }
      if (r.consumed > buffer.size()) __builtin_trap();
      if ((r.status == DecodeStatus::kBroken) != (r.consumed == 0)) __builtin_trap();
      log += std::to_string(static_cast<int>(r.status));
      log += ' ';
      log += std::to_string(r.consumed);
      std::string wire;
      if (r.status == DecodeStatus::kRequest) {
        log += ' ';
        log += request.method;
        log += ' ';
        log += request.params.dump(-1, ' ', false, Json::error_handler_t::replace);
        Response echo;
        echo.result = std::move(request.params);
        codec->encode(echo, wire);
      } else {
        if (!reply.is_error() && r.status == DecodeStatus::kBroken) __builtin_trap();
        codec->encode(reply, wire);
        if (reply.kind == rpcgate::codec::resp::kKindHello3) resp2 = false;
        if (reply.kind == rpcgate::codec::resp::kKindHello2) resp2 = true;
      }
      if (resp2) check_reply_readable(wire);
      log += " -> ";
      log += wire;
      log += '\n';
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
  const uint8_t selector = data[0];
  const size_t k = data[1] % 16;
  if (size < 2 + k) return 0;
  const std::string_view sizes(text + 2, k);
  const std::string_view stream(text + 2 + k, size - 2 - k);
  const CodecOptions options = server_options(selector);

  const std::string whole = transcript(stream, {}, options);
  if (!sizes.empty() && transcript(stream, sizes, options) != whole) __builtin_trap();
  if (stream.size() <= 1024 && transcript(stream, std::string_view("\0", 1), options) != whole)
    __builtin_trap();  // a size byte of 0 means reads of one byte
  return 0;
}
