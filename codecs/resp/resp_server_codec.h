// The RESP server codec: decodes commands (RESP arrays and inline lines), answers connection
// commands, encodes responses in RESP2 or, after HELLO 3, RESP3.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/codec.h"
#include "codecs/resp/connection_commands.h"
#include "codecs/resp/inline_command.h"
#include "codecs/resp/multibulk_reader.h"
#include "codecs/resp/resp_encoder.h"
#include "codecs/resp/stateful_commands.h"

namespace rpcgate::codec::resp {

class RespServerCodec final : public ServerCodec {
 public:
  explicit RespServerCodec(const CodecOptions& options);

  DecodeResult decode(std::string_view input, Request& request, Response& reply) override;
  void encode(const Response& response, std::string& out) override;
  // A command array, as clients send it. Inline commands are re-encoded as arrays, and CALL
  // (rpcgate's own command, naming the method in its first argument) is re-encoded as that method.
  bool forwardable(std::string_view frame, const Request&) const override {
    return !frame.empty() && frame.front() == '*' && name_ != "call";
  }
  // A RESP3 client (after HELLO 3) gets a connection of its own for everything it forwards: shared
  // connections speak RESP2, and its replies must reach it in RESP3 as Redis writes them.
  Pinning pinning(const Request& request) const override {
    Pinning pinning = command_pinning(request);
    return pinning == Pinning::kNone && connection_.protocol() == 3 ? Pinning::kSession : pinning;
  }
  void answer_locally(const Request& request, Response& reply) override;
  std::vector<std::string> session_preamble() const override;
  int session_protocol() const override { return connection_.protocol() == 3 ? 3 : 0; }
  bool enforces_login() const override { return true; }

 private:
  DecodeResult command(size_t end, Request& request, Response& reply);
  DecodeResult broken(ErrorCode code, std::string_view message, Response& reply);
  DecodeResult need_more(std::string_view input, Response& reply);

  // The options it uses, and not a copy of CodecOptions (120 bytes per connection): its
  // limits are the multibulk reader's (limits()), its credentials are connection_'s.
  const Limits& limits() const { return multibulk_.limits(); }
  MultibulkReader multibulk_;
  InlineReader inline_;
  ConnectionCommands connection_;
  RespEncoder encoder_;

  // Bytes at the start of the input that held only empty commands (blank inline lines, `*0`):
  // consumed silently, so they are reported as part of the next command's `consumed`.
  size_t skip_ = 0;

  // Reused for every command, so that a steady stream of PINGs allocates nothing.
  std::vector<std::string_view> argv_;
  std::vector<ArgSpan> inline_spans_;
  std::string inline_scratch_;
  std::string name_;
  std::vector<std::string> local_args_;  // answer_locally's arguments, as text

  RespArgs resp_args_;
  bool redis_upstream_;
  bool broken_ = false;
  ErrorCode broken_code_ = ErrorCode::kNone;
  std::string broken_message_;
};

}  // namespace rpcgate::codec::resp
