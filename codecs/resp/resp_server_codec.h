// The RESP server codec: decodes commands (RESP arrays and inline lines), answers connection
// commands, encodes responses in RESP2 or, after HELLO 3, RESP3.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/codec.h"
#include "codecs/resp/cluster_facade.h"
#include "codecs/resp/cluster_session.h"
#include "codecs/resp/command_reader.h"
#include "codecs/resp/connection_commands.h"
#include "codecs/resp/inline_command.h"
#include "codecs/resp/resp_encoder.h"
#include "codecs/resp/stateful_commands.h"

namespace rpcgate::codec::resp {

// Also its connection's upstream session: a Redis keeps per-connection state, so in front of one
// (CodecOptions::upstream) the codec tells which commands need a connection of the client's own.
class RespServerCodec final : public ServerCodec, public UpstreamSession {
 public:
  explicit RespServerCodec(const CodecOptions& options);

  DecodeResult decode(std::string_view input, Request& request, Response& reply) override;
  void encode(const Response& response, std::string& out) override;
  // A command array as the client sent it; an inline command re-encoded as an array; HELLO
  // without its AUTH (the listener's login, not the upstream's). Not CALL (rpcgate's own
  // command, naming the method in its first argument), which is re-encoded as that method.
  void complete_params(Request& request) override;
  std::string_view forward_frame(std::string_view frame, const Request&) override {
    if (name_ == "call") return {};
    return rewritten_ ? std::string_view(rewrite_) : frame;
  }
  // A RESP3 client (after HELLO 3) gets a connection of its own for everything it forwards: shared
  // connections speak RESP2, and its replies must reach it in RESP3 as Redis writes them.
  // With forward_auth, a login is the client's own connection's.
  UpstreamSession* session() override { return this; }
  Pinning pinning(const Request& request) const override {
    if (logs_in_upstream_) return Pinning::kSession;
    Pinning pinning = command_pinning(request);
    return pinning == Pinning::kNone && connection_.protocol() == 3 ? Pinning::kSession : pinning;
  }
  bool answer_locally(Request& request, Response& reply) override;
  void complete(const Request& request, Response& response) override;
  void set_connection_id(uint64_t id) override { connection_id_ = id; }
  void on_own_connection() override { pinned_ = true; }
  std::vector<std::string> session_preamble() const override;
  Deferral defer(const Request& request, bool deferring, Response& reply) const override {
    return defer_transaction(request, deferring, reply);
  }
  std::string deferred_frame() const override { return multi_frame(); }
  void track(const Request& request, SessionHold& hold) const override {
    // A RESP3 client's connection speaks RESP3, and a forwarded login is that connection's.
    if (logs_in_upstream_ || connection_.protocol() == 3) hold.lasting = true;
    track_session(request, hold);
  }
  void on_own_connection_released() override { pinned_ = false; }
  bool enforces_login() const override { return true; }
  void accept_login() override { connection_.accept_login(); }
  bool wants_local_address() const override { return cluster_facade_; }
  void set_local_address(std::string_view host, uint16_t port) override { facade_.set_address(host, port); }

 private:
  DecodeResult command(size_t end, Request& request, Response& reply);
  // HELLO and RESET in front of a Redis: their effect on the client's state, kept here.
  DecodeResult session_command(size_t end, Request& request, Response& reply);
  // INFO rpcgate[-SECTION] as a request for rpcgate's own INFO; false for any other command.
  bool own_info(Request& request) const;
  // Where HELLO's AUTH option is in argv_; 0 when it has none.
  size_t auth_option() const;
  // rewrite_ = argv_ as a RESP array, without the `skip` arguments from index `from` on.
  void rewrite_argv(size_t from = 0, size_t skip = 0);
  DecodeResult broken(ErrorCode code, std::string_view message, Response& reply);
  DecodeResult need_more(std::string_view input, Response& reply);

  // The options it uses, and not a copy of CodecOptions (120 bytes per connection): its
  // limits are the command reader's (limits()), its credentials are connection_'s.
  const Limits& limits() const { return commands_.limits(); }
  CommandReader commands_;
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
  std::string rewrite_;                  // forward_frame() when the frame itself will not do
  bool rewritten_ = false;
  uint64_t connection_id_ = 0;

  RespArgs resp_args_;
  bool redis_upstream_;  // it stands in for a Redis (CodecOptions::upstream)
  bool cluster_facade_;  // for a Redis Cluster: it shows cluster-aware clients a one-node cluster
  ClusterFacade facade_;
  bool forward_auth_;
  bool logs_in_upstream_ = false;  // the command just decoded is AUTH, or HELLO ... AUTH, to forward
  bool pinned_ = false;            // the client has an upstream connection of its own
  bool broken_ = false;
  ErrorCode broken_code_ = ErrorCode::kNone;
  std::string broken_message_;
};

}  // namespace rpcgate::codec::resp
