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
#include "core/message.h"

namespace rpcgate::codec {

// Bounds on what one peer may make us hold. Checked the moment a header announces a size, never
// after buffering it. Defaults follow docs/protocols.md.
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
  // resp: a client's own AUTH (and HELLO's AUTH option) logs in its own upstream connection, so
  // that Redis's ACL users apply to it; RESET logs it out again. A cluster option, copied to the
  // listener with redis_upstream.
  bool forward_auth = false;
  // resp client side: every upstream connection starts with AUTH [username] password.
  std::string auth_username;
  std::string auth_password;
  // Server side: the logins a client must make before anything else; null = none required.
  // Owned by the listener, which outlives its codecs.
  const Credentials* credentials = nullptr;
};

enum class DecodeStatus : uint8_t {
  kNeedMore,  // no whole frame yet; nothing consumed
  kRequest,   // `request` holds a decoded request; `reply.close_after` set means none follows it
              // (RESP QUIT forwarded to a client's own connection): the connection closes once
              // it is answered
  kAnswered,  // the codec answered the frame itself into `reply` (a connection-level command such as
              // RESP HELLO, or a request-level error such as invalid JSON); the connection stays usable
  kBroken,    // framing error: the stream cannot be resynchronised. `reply` holds the one error to
              // send; the caller stops reading and closes once it is written
  kHangUp,    // the peer is not a client of this protocol (HTTP on the RESP port): close at once,
              // with no reply, dropping the answers still owed, as Redis does
  kOversized, // client side, skip() only: a well-formed reply larger than the limits. `reply`
              // holds the error for its request; the caller passes the rest of the reply to
              // discard(), and the connection stays usable
};

// What a request does to the server's side of its connection, when it is forwarded to an upstream
// of the same codec. Only kNone may travel on a connection shared by several clients: exactly one
// reply, and nothing left behind on the connection.
enum class Pinning : uint8_t {
  kNone,
  // Leaves state that later requests of the same client rely on (a transaction, a blocked call,
  // a selected database): a connection of the client's own.
  kSession,
  // As kSession, and the server may hold it (a Redis blocking command): the client's later
  // requests are read only once it is answered, as a blocked client's input waits in Redis.
  kBlocking,
  // From here on the replies are not one per request (pub/sub, MONITOR, Redis's CLIENT REPLY
  // OFF), or not the protocol at all (SYNC: an RDB file, then the replication stream): a
  // connection of the client's own, and the gateway steps aside, passing both ways unread.
  kStream,
  // Answered here (SELECT 0, CLIENT SETNAME, HELLO) while the client has no connection of its
  // own, and forwarded on it once it has one.
  kLocalUnlessPinned,
};

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

  // The bytes to forward to an upstream of the same codec for the request just decoded from
  // `frame`, its reply coming back byte for byte (the fast path): `frame` itself, or a rewrite
  // the codec keeps until its next decode (a RESP inline command as an array). Empty when the
  // request must be re-encoded from `request` (it carries an id or metadata the gateway keeps).
  virtual std::string_view forward_frame(std::string_view frame, const Request& request) {
    (void)frame;
    (void)request;
    return {};
  }

  // For a request with a forward_frame(): whether it needs an upstream connection of its client's own.
  virtual Pinning pinning(const Request& request) const {
    (void)request;
    return Pinning::kNone;
  }

  // A kLocalUnlessPinned request from a client with no connection of its own: true with `reply`
  // filled when the codec answers it; false when `request` now holds what to ask a shared
  // connection instead (RESP HELLO asks a bare HELLO), whose answer complete() finishes.
  virtual bool answer_locally(Request& request, Response& reply) {
    (void)request;
    reply.set_error(ErrorCode::kInternal, "nothing to answer locally");
    return true;
  }
  // Adjusts an upstream's answer to a re-encoded request before it is encoded for this client.
  virtual void complete(const Request& request, Response& response) {
    (void)request;
    (void)response;
  }
  // The gateway's id for this connection, for protocols that show one (RESP HELLO).
  virtual void set_connection_id(uint64_t id) { (void)id; }
  // The client now has an upstream connection of its own: from here on the session commands the
  // codec answered in its stead (RESP HELLO, QUIT) go there as they are, in order.
  virtual void on_own_connection() {}

  // Frames that recreate, on a new upstream connection of the client's own, the session state
  // the codec has kept for it (RESP: HELLO 3, the client name). Their replies are dropped.
  virtual std::vector<std::string> session_preamble() const { return {}; }
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

  // After skip() said kOversized: passes over the rest of that reply without holding it. `input`
  // starts at the first byte not consumed; `consumed` may be set with kNeedMore (the bytes passed
  // over so far, to be dropped); kAnswered once the reply has ended; kBroken, with `error`, for a
  // reply that turns out malformed.
  virtual DecodeResult discard(std::string_view input, Response& error) {
    (void)input;
    error.set_error(ErrorCode::kInternal, "this codec cannot pass over a reply");
    return DecodeResult{DecodeStatus::kBroken, 0};
  }

  // Frames every new upstream connection starts with (RESP AUTH); their replies are dropped.
  virtual std::string connection_preamble() const { return {}; }

  // False for a request that must not travel on a connection other clients share: its replies
  // are not exactly one, or it leaves state on the connection (Pinning). Such a request reaches
  // the upstream only on a connection of its client's own.
  virtual bool shareable(const Request& request) const {
    (void)request;
    return true;
  }

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
