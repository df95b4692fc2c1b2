// The codec seam: how a wire format plugs into the gateway. A codec is pure code over bytes: no
// sockets, no loop, no logging, no globals. Every limit it enforces arrives in CodecOptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codecs/codec_options.h"
#include "codecs/sharding.h"
#include "codecs/upstream_session.h"
#include "core/call_stream.h"
#include "core/message.h"

namespace rpcgate::codec {

enum class DecodeStatus : uint8_t {
  kNeedMore,    // no whole frame yet; nothing consumed
  kRequest,     // `request` holds a decoded request; `reply.close_after` set means none follows it
                // (RESP QUIT forwarded to a client's own connection): the connection closes once
                // it is answered
  kAnswered,    // the codec answered the frame itself into `reply` (a connection-level command such as
                // RESP HELLO, or a request-level error such as invalid JSON); the connection stays usable
  kBroken,      // framing error: the stream cannot be resynchronised. `reply` holds the one error to
                // send; the caller stops reading and closes once it is written
  kHangUp,      // the peer is not a client of this protocol (HTTP on the RESP port): close at once,
                // with no reply, dropping the answers still owed, as Redis does
  kConsumed,    // `consumed` bytes made no request (server side) or completed no reply (client side),
                // and want no answer: a multiplexed protocol's control frames (settings, flow
                // control), a frame of a reply still arriving; the caller decodes on
  kRefused,     // client side, by id only: the upstream refused the request whose id is in `response.id`
                // without acting on it (HTTP/2 REFUSED_STREAM, a stream above GOAWAY's last id):
                // it may be sent elsewhere, as one never sent
  kOversized,   // client side, skip() only: a well-formed reply larger than the limits. `reply`
                // holds the error for its request; the caller passes the rest of the reply to
                // discard(), and the connection stays usable
  kCallOpened,  // server side, codecs with streams() only: the head of a call that may stream
                // (method, metadata, id, no message) is in `request`. The caller either adopts
                // it (ServerStreams::adopt), or does nothing and gets it as kRequest once whole
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMore;
  size_t consumed = 0;  // bytes of `input` that made up the frame (0 for kNeedMore and kBroken)
};

// Streamed calls (core/call_stream.h) through a listener's codec: the client's side of each. Only
// a multiplexed codec whose calls can stream has them (grpc); the others keep one request, one
// response. Ids are Request::id.
class ServerStreams {
 public:
  // The call just reported as kCallOpened streams: its messages go to `stream` as they come, and
  // its response (encode) ends it, after the messages sent to it.
  virtual void adopt(uint64_t id, CallStream& stream) = 0;
  // The upstream's response headers (metadata) and messages, for the client, in that order.
  virtual void send_headers(uint64_t id, const Meta& meta) = 0;
  virtual void send(uint64_t id, std::string_view bytes) = 0;
  // `bytes` the client sent were passed on: it may send that much more (flow control).
  virtual void consume(uint64_t id, size_t bytes) = 0;
  // Hold every stream's messages back while the connection's output is full, so that a client
  // that does not read makes the upstream wait rather than rpcgate buffer.
  virtual void hold_messages(bool hold) = 0;
  // The pairing is gone: nothing more is told to it.
  virtual void release(uint64_t id) = 0;
  // How much of what a client sends on a streamed call is kept so that the call can be placed
  // again when an upstream refuses it unseen: one message's worth (grpc: max_message_bytes).
  virtual size_t replay_bytes() const = 0;

 protected:
  ~ServerStreams() = default;
};

// Streamed calls towards an upstream: encode() of a request with Request::stream set opens the
// call and sends its payload; these carry the rest. Ids are the ones encode() was given.
class ClientStreams {
 public:
  // More of the client's messages, and its half-close.
  virtual void send(uint64_t id, std::string_view bytes) = 0;
  virtual void end(uint64_t id) = 0;
  // `bytes` the upstream sent were passed on to the client: it may send that much more.
  virtual void consume(uint64_t id, size_t bytes) = 0;
  // Nobody waits for the call any more (the client reset it or left, its deadline passed): the
  // upstream is told to stop (HTTP/2 RST_STREAM CANCEL), and its CallStream is forgotten.
  virtual void abandon(uint64_t id) = 0;

 protected:
  ~ClientStreams() = default;
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
  // The gateway has logged the client in before its first request, as one of
  // CodecOptions::credentials' users (mutual TLS: a client certificate naming that user). A codec
  // that enforces_login() then serves the client as if its own login (RESP AUTH) had succeeded.
  virtual void accept_login() {}

  // Decodes the params that decode() left as bytes (Request::params_deferred), for whatever
  // needs them beyond forward_frame(): an in-process handler, an upstream of another codec, a
  // balancer hashing a key. Only before the next decode(), whose input the bytes are part of.
  virtual void complete_params(Request& request) { (void)request; }

  // The bytes to forward to an upstream of the same codec for the request just decoded from
  // `frame`, its reply coming back byte for byte (the fast path): `frame` itself, or a rewrite
  // the codec keeps until its next decode (a RESP inline command as an array). Empty when the
  // request must be re-encoded from `request` (it carries an id or metadata the gateway keeps).
  virtual std::string_view forward_frame(std::string_view frame, const Request& request) {
    (void)frame;
    (void)request;
    return {};
  }

  // The upstream session this codec keeps for its client, or null when its protocol's servers
  // keep no per-connection state (codecs/upstream_session.h). Asked once per connection.
  virtual UpstreamSession* session() { return nullptr; }

  // Its streamed calls, or null when its calls are one request and one response (every codec
  // but grpc). Asked once per connection.
  virtual ServerStreams* streams() { return nullptr; }

  // Bytes the codec must send that answer no request, appended to `out` before the answers of
  // each read and before every write: a multiplexed protocol's own frames (HTTP/2 settings and ping acknowledgements,
  // flow-control updates). With kConsumed for the frames that make no request, and answers_in_order() false with the
  // stream in Request::id, this is the room a multiplexed session needs: 0..n requests per read, answered out of order,
  // and writes of its own. Most codecs have none.
  virtual void take_output(std::string& out) { (void)out; }

  // The gateway drains (shutdown, reload): a protocol that can tell its client to stop sending new
  // requests queues that goodbye here (HTTP/2 GOAWAY), taken with take_output; the requests in
  // flight are still answered. Most codecs have none: their clients see the connection close once
  // it is quiet.
  virtual void begin_drain() {}

  // Whether the gateway is ready for calls (what /readyz says; false once a drain begins or while
  // POST /healthcheck/fail holds): told at the start and on every change, for protocols that
  // report it to clients on their own (the gRPC health service's Watch streams).
  virtual void set_serving(bool serving) { (void)serving; }
};

// The client side, towards an upstream: encodes requests, decodes responses.
class ClientCodec {
 public:
  virtual ~ClientCodec() = default;

  // Appends one whole request frame to `out`.
  virtual void encode(const Request& request, std::string& out) = 0;

  // Same input contract as ServerCodec::decode. kRequest is never returned: a whole response is
  // reported as kAnswered with `response` filled; a framing error, or a response that does not
  // follow the protocol, as kBroken: the connection cannot be trusted any further. A multiplexed
  // codec may complete several replies with one frame: it reports them one per call, the later
  // ones with `consumed` 0, so the caller decodes until kNeedMore, even with no input left.
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
  // Frames sent once the login is in, before any request (Redis Cluster's READONLY, so that a
  // replica serves reads); their replies are dropped.
  virtual std::string connection_setup() const { return {}; }

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

  // After each encode(): true when the request could not be put on the wire (grpc: params that do
  // not fit the message type its method takes), with the error to answer it with; encode() then
  // wrote nothing, and the call fails without reaching the upstream. Most codecs always encode.
  virtual bool encode_failed(Response& error) {
    (void)error;
    return false;
  }

  // The endpoint ("host:port") this codec's connection goes to, told once before any encode(), for
  // protocols that name it in each request (HTTP/2's :authority).
  virtual void connected_to(std::string_view peer) { (void)peer; }

  // Bytes the codec must send that answer no request, taken after each read and before each
  // write (HTTP/2 settings and ping acknowledgements, window updates, the rest of a message flow
  // control held back, a streamed call's messages).
  virtual void take_output(std::string& out) { (void)out; }

  // Its streamed calls (Request::stream), or null when it has none: then a request's stream is
  // never set for it.
  virtual ClientStreams* streams() { return nullptr; }

  // How its servers split the keyspace, when its cluster is one sharded server (a Redis Cluster):
  // backends/ then routes each request to its shard's owner (codecs/sharding.h). Null otherwise.
  virtual Sharding* sharding() { return nullptr; }

  // How many requests the connection may carry at once, as the protocol has it now (HTTP/2: the
  // peer's SETTINGS_MAX_CONCURRENT_STREAMS; 0 once it said GOAWAY). Bounds the cluster's
  // pipeline_depth; a connection at 0 with nothing in flight is closed.
  virtual size_t max_in_flight() const { return SIZE_MAX; }
  // True when one connection serves its requests side by side (HTTP/2 streams): the pool opens
  // another connection only when those open are full, not whenever none is idle.
  virtual bool multiplexed() const { return false; }

  // True when Request::meta reaches the upstream (protobuf), so a deadline can travel in it.
  virtual bool carries_meta() const { return false; }
  // True when replies carry the request's id and may come in any order (protobuf); false when
  // they come in request order (json, resp).
  virtual bool matches_by_id() const { return false; }
};

// The codec registry: a new wire format is one folder in codecs/ plus one line in registry.cpp
// (or, for a codec outside the tree, one register_codec() call before the config is loaded).
struct CodecInfo {
  std::string_view name;
  std::unique_ptr<ServerCodec> (*make_server)(const CodecOptions& options);
  std::unique_ptr<ClientCodec> (*make_client)(const CodecOptions& options);
  // The option keys it owns beside the limits every codec shares (max_frame_bytes, max_depth).
  std::span<const CodecOption> options = {};
  // Adjusts the defaults of a cluster of this codec before its section is read (what an
  // upstream may legitimately send can differ from what a client may).
  void (*cluster_defaults)(CodecOptions& options) = nullptr;
  // Checks options that only make sense together once a section is read: the offending key
  // and why, or an empty key.
  std::pair<std::string_view, std::string> (*check)(const CodecOptions& options) = nullptr;
  // Builds CodecOptions::state once a section is read and checked, from what its options name
  // (files): the offending key and why, or an empty key. Config loading is the only place a codec
  // reads a file; its connections share what this built.
  std::pair<std::string_view, std::string> (*load)(CodecOptions& options) = nullptr;
  // Whether a listener's and a cluster's options frame this codec's bytes alike, so that a frame
  // may be forwarded as it came and its reply returned as it comes back; null = always.
  bool (*same_framing)(const CodecOptions& a, const CodecOptions& b) = nullptr;
  // A method that, routed to a cluster of this same codec, makes a listener stand in for that
  // upstream (CodecOptions::upstream): RESP's "select", which only a catch-all sidecar sends on.
  std::string_view sidecar_probe = {};
  // Whether it lower-cases method names as it decodes them (RESP command names), so that a route
  // naming a method with upper-case letters is reached by no client of a listener of this codec.
  bool lowercases_methods = false;
  // The application protocol its connections negotiate over TLS (ALPN), offered by a cluster's
  // upstream connections and required of the upstream: gRPC's "h2". Empty = none offered.
  std::string_view alpn = {};
};

// nullptr for an unknown name.
const CodecInfo* find_codec(std::string_view name);
// Adds a codec that is not built into the table (a plug-in, a test's); false when its name is
// taken. Call before loading a config, on the main thread: the registry is read without locks.
bool register_codec(const CodecInfo& info);
// Every known codec, built-in first, in registration order.
std::vector<const CodecInfo*> all_codecs();
// "json, resp, protobuf, grpc": for error messages and --help.
std::string codec_names();

}  // namespace rpcgate::codec
