// The canonical request and response every codec translates to and from. Nothing here knows a
// wire format; the gateway, router, handlers and backends only ever see these types.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rpcgate {

class CallStream;
using Json = nlohmann::json;

// One set of error codes for all codecs (docs/protocols.md, "The canonical model").
enum class ErrorCode : uint8_t {
  kNone = 0,
  kBadRequest,
  kTooLarge,
  kUnknownMethod,
  kUnavailable,
  kTimeout,
  kUpstreamError,
  kOverloaded,
  kShuttingDown,
  kInternal,
  kNoAuth,  // the listener requires a login and the connection has not made one
};

// "BAD_REQUEST", "TOO_LARGE", ...; "" for kNone.
std::string_view error_code_name(ErrorCode code);
// The inverse, for codecs that read an error from the wire; nullopt for an unknown name.
std::optional<ErrorCode> error_code_from_name(std::string_view name);

// rpcgate's own INFO (the `info` handler): answered in process on every listener before any
// route is looked at, so a catch-all route to an upstream cannot hide it. RESP clients reach it as
// `INFO rpcgate` and `INFO rpcgate-<section>`, which Redis itself answers with nothing.
inline constexpr std::string_view kOwnInfoMethod = "rpcgate.info";
// The standard gRPC health check (grpc.health.v1), answered the same way from the gateway's
// readiness: a load balancer probing it stops sending calls when /readyz would say 503.
inline constexpr std::string_view kOwnHealthMethod = "grpc.health.v1.Health/Check";

// String metadata carried beside the params (deadline_ms, trace_id, ...). A vector, not a map:
// it is almost always empty or tiny, and an empty vector costs no allocation.
using Meta = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // exact name; RESP lower-cases command names
  Json params;         // null when absent; binary values allowed
  // The codec left `params` undecoded, as the bytes of the frame it read (ServerCodec::
  // complete_params): a call forwarded as its frame never needs them, and most calls are.
  bool params_deferred = false;
  std::optional<uint64_t> id;  // correlation id when the codec carries one
  Meta meta;
  std::string payload;  // opaque bytes (protobuf `payload`), forwarded as they are
  // A streamed call's messages pass through this, not in params or payload (core/call_stream.h);
  // `payload` then holds what the client sent before the call reached an upstream connection.
  CallStream* stream = nullptr;

  void clear() {
    method.clear();
    params = nullptr;
    params_deferred = false;
    id.reset();
    meta.clear();
    payload.clear();
    stream = nullptr;
  }
};

struct Response {
  std::optional<uint64_t> id;  // the request's id, echoed
  std::string kind;            // the JSON codec's `out` ("pong", "pi_r", ...); may be empty
  Json result;                 // null when absent
  std::string payload;         // opaque bytes (protobuf `payload`)
  // A short status line for codecs that have one (RESP `+PONG`, `+OK`); when set, such a codec
  // sends it instead of `result`, and other codecs ignore it.
  std::string status;
  ErrorCode error = ErrorCode::kNone;
  std::string message;        // human-readable error text when `error` is set
  bool close_after = false;   // close the connection once this response is written (QUIT)
  bool login_failed = false;  // it refuses a login with wrong credentials (counted, logged)
  // Metadata an upstream answered with, for codecs that send it on (grpc: response headers, and
  // trailers, which also keep the upstream's own status so that a gRPC client gets it exactly).
  // Other codecs neither fill nor read them.
  Meta meta;
  Meta trailers;

  bool is_error() const { return error != ErrorCode::kNone; }

  void set_error(ErrorCode code, std::string text) {
    error = code;
    message = std::move(text);
  }

  void clear() {
    id.reset();
    kind.clear();
    result = nullptr;
    payload.clear();
    status.clear();
    error = ErrorCode::kNone;
    message.clear();
    close_after = false;
    login_failed = false;
    meta.clear();
    trailers.clear();
  }
};

}  // namespace rpcgate
