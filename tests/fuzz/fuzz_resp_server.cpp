// libFuzzer target for the RESP server codec: decoding must not crash, leak or trip a sanitizer,
// and must give the same results whole, in reads of input-chosen sizes, and byte at a time.
// Every reply is encoded, and (while the connection speaks RESP2) read back by the client codec.
//
// Input layout: [options byte][k][k read sizes][stream]. Text-friendly, so seeds stay readable.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/resp/resp_codec.h"
#include "codecs/resp/resp_encoder.h"
#include "tests/support/codec_driver.h"
#include "tests/support/fuzz_codec.h"

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
  const DecodeResult r = rpcgate::test::decode_once(*client, wire).result;
  if (r.status != DecodeStatus::kAnswered || r.consumed != wire.size()) __builtin_trap();
}

// Decodes `stream` the way the gateway does, in `reads`, and returns a transcript of every
// non-NeedMore result.
std::string transcript(std::string_view stream, const rpcgate::test::Reads& reads, const CodecOptions& options) {
  auto codec = rpcgate::codec::resp::make_server_codec(options);
  std::string log;
  bool resp2 = true;  // the client codec reads RESP2 only
  rpcgate::test::Fed fed =
      rpcgate::test::feed_server(*codec, stream, reads, [&](DecodeResult r, Request& request, const Response& reply) {
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
          codec->encode(reply, wire);
          if (reply.kind == rpcgate::codec::resp::kKindHello3) resp2 = false;
          if (reply.kind == rpcgate::codec::resp::kKindHello2) resp2 = true;
        }
        if (resp2) check_reply_readable(wire);
        log += " -> ";
        log += wire;
        log += '\n';
      });
  if (!fed.breach.empty()) __builtin_trap();
  return fed.broken ? log + "broken\n" : log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = rpcgate::test::fuzz::split_resp_input(data, size);
  if (!input) return 0;
  const CodecOptions options = server_options(input->options);
  auto run = [&](std::string_view s, const rpcgate::test::Reads& reads) { return transcript(s, reads, options); };
  rpcgate::test::fuzz::check_same_in_pieces(input->stream, input->cuts, run);
  return 0;
}
