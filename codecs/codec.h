// The codec seam: how a wire format plugs into the gateway. A codec is pure code over bytes: no
// sockets, no loop, no logging, no globals. Every limit it enforces arrives in CodecOptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/credentials.h"
#include "codecs/message.h"

namespace rpcgate::codec {

// Bounds on what one peer may make us hold. Checked the moment a header announces a size, never
// after buffering it. Defaults follow PROTOCOLS.md.
struct Limits {
  size_t max_frame_bytes = 16u << 20;      // JSON/protobuf frame body; RESP bulk string length
  size_t max_request_bytes = 64u << 20;    // RESP: one whole command (all its bulks) not yet complete
  size_t max_elements = 1u << 20;          // RESP array elements
  size_t max_depth = 64;                   // JSON nesting, RESP array nesting, protobuf Value recursion
  size_t max_inline_bytes = 64u << 10;     // RESP inline command line
};

enum class ByteOrder : uint8_t { kLittle, kBig };
enum class RespArgs : uint8_t { kAuto, kStrings };

// Per-listener / per-cluster codec settings. One flat struct: each codec reads the fields it owns.
struct CodecOptions {
  Limits limits;
  ByteOrder length_byte_order = ByteOrder::kLittle;  // json: the legacy services pack native (LE)
  RespArgs resp_args = RespArgs::kAuto;              // resp: how command arguments become params
  // resp: a route sends SELECT to a Redis (a catch-all sidecar), so the listener behaves as that
  // Redis would: SELECT, CLIENT and COMMAND decode to requests instead of being answered by the
  // codec, and protocol errors carry Redis's own text. Set by the gateway from the routes.
  bool redis_upstream = false;
  // resp client side: every upstream connection starts with AUTH [username] password.
  std::string auth_username;
  std::string auth_password;
  // Server side: the logins a client must make before anything else; null = none required.
  // Owned by the listener, which outlives its codecs.
  const Credentials* credentials = nullptr;
};

enum class DecodeStatus : uint8_t {
  kNeedMore,  // no whole frame yet; nothing consumed
  kRequest,   // `request` holds a decoded request
  kAnswered,  // the codec answered the frame itself into `reply` (a connection-level command such as
              // RESP HELLO, or a request-level error such as invalid JSON); the connection stays usable
  kBroken,    // framing error: the stream cannot be resynchronised. `reply` holds the one error to
              // send; the caller stops reading and closes once it is written
};

// What a request does to the server's side of its connection, when it is forwarded to an upstream
// of the same codec: nothing (any shared connection may carry it), state that later requests of
// the same client rely on (a transaction, a blocked call, a selected database), or a switch to a
// stream of pushes the server sends on its own (pub/sub).
// kLocalUnlessPinned: harmless to answer here (SELECT 0, CLIENT SETNAME) while the client has no
// connection of its own, and forwarded on it once it has one.
enum class Pinning : uint8_t { kNone, kSession, kPush, kLocalUnlessPinned };

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMore;
  size_t consumed = 0;  // bytes of `input` that made up the frame (0 for kNeedMore and kBroken)
};

// The server side of a connection: decodes requests, encodes responses. One instance per
// downstream connection, so it may keep per-connection protocol state (RESP3 after HELLO 3).
class ServerCodec {
 public:
  virtual ~ServerCodec() = default;

  // `input` starts at the first byte not yet consumed: bytes handed before and not consumed are
  // handed again, followed by any new ones. Decodes at most one frame. Views into `input` are not
  // kept in `request`; it owns what it holds.
  virtual DecodeResult decode(std::string_view input, Request& request, Response& reply) = 0;

  // Appends one whole response frame to `out`.
  virtual void encode(const Response& response, std::string& out) = 0;

  // False when every response carries its request's id, so answers may leave in completion
  // order instead of waiting for slower requests ahead of them (protobuf).
  virtual bool answers_in_order() const { return true; }

  // True when the codec enforces CodecOptions::credentials itself, with its protocol's own
  // commands and errors (RESP AUTH, HELLO AUTH, NOAUTH). Otherwise the gateway does, with the
  // `auth` method.
  virtual bool enforces_login() const { return false; }

  // True when `frame` (the bytes of a request this codec just decoded) may be forwarded as it is
  // to an upstream of the same codec, its reply coming back byte for byte: the fast path. False
  // when the frame carries something the gateway must rewrite or answer itself (an id, metadata,
  // a RESP inline command).
  virtual bool forwardable(std::string_view frame, const Request& request) const {
    (void)frame;
    (void)request;
    return false;
  }

  // For a forwardable request: whether it needs an upstream connection of the client's own.
  virtual Pinning pinning(const Request& request) const {
    (void)request;
    return Pinning::kNone;
  }

  // Answers a kLocalUnlessPinned request the way the codec would have without forwarding.
  virtual void answer_locally(const Request& request, Response& reply) {
    (void)request;
    reply.set_error(ErrorCode::kInternal, "nothing to answer locally");
  }

  // Frames that recreate, on a new upstream connection of the client's own, the session state
  // the codec has kept for it (RESP: HELLO 3, the client name). Their replies are dropped.
  virtual std::vector<std::string> session_preamble() const { return {}; }
  // The protocol version the upstream answers in once the preamble is sent (0: unchanged).
  virtual int session_protocol() const { return 0; }
};

// The client side, towards an upstream: encodes requests, decodes responses.
class ClientCodec {
 public:
  virtual ~ClientCodec() = default;

  // Appends one whole request frame to `out`.
  virtual void encode(const Request& request, std::string& out) = 0;

  // Same input contract as ServerCodec::decode. kRequest is never returned: a whole response is
  // reported as kAnswered with `response` filled; a framing error, or a response that does not
  // follow the protocol, as kBroken: the connection cannot be trusted any further.
  virtual DecodeResult decode(std::string_view input, Response& response) = 0;

  // Like decode, but only finds where the next response ends (kAnswered, `consumed` set) without
  // building it: for replies forwarded byte for byte, and late replies nobody waits for.
  // `error` is filled only for kBroken.
  virtual DecodeResult skip(std::string_view input, Response& error) = 0;

  // Frames every new upstream connection starts with (RESP AUTH); their replies are dropped.
  virtual std::string connection_preamble() const { return {}; }

  // From now on the upstream answers in protocol `version` (RESP3 after HELLO 3 on a client's
  // own connection). Such replies are forwarded, so only skip() needs to know them.
  virtual void expect_protocol(int version) { (void)version; }
  // True for a frame (found by skip) that answers no request: a RESP3 push.
  virtual bool is_push(std::string_view frame) const {
    (void)frame;
    return false;
  }

  // True when Request::meta reaches the upstream (protobuf), so a deadline can travel in it.
  virtual bool carries_meta() const { return false; }
  // True when replies carry the request's id and may come in any order (protobuf); false when
  // they come in request order (json, resp).
  virtual bool matches_by_id() const { return false; }
};

// The codec registry: a new wire format is one folder in codecs/ plus one line in registry.cpp.
struct CodecInfo {
  std::string_view name;
  std::unique_ptr<ServerCodec> (*make_server)(const CodecOptions& options);
  std::unique_ptr<ClientCodec> (*make_client)(const CodecOptions& options);
};

// nullptr for an unknown name.
const CodecInfo* find_codec(std::string_view name);
// "json, resp, protobuf": for error messages and --help.
std::string codec_names();

}  // namespace rpcgate::codec
