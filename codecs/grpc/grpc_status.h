// gRPC's status codes and the headers that carry them (grpc-status, grpc-message, grpc-timeout),
// translated to and from rpcgate's own error codes. Pure functions; both sides of the codec use them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/message.h"

namespace rpcgate::codec::grpc {

// The codes of grpc/doc/statuscodes.md that rpcgate sends or reads by name.
enum class Status : uint32_t {
  kOk = 0,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kResourceExhausted = 8,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

// The grpc-status a client gets for an rpcgate error (docs/grpc.md, "Status mapping").
Status status_of(ErrorCode code);
// The other way, for answers read from a gRPC upstream: codes with no rpcgate equivalent are an
// UPSTREAM_ERROR.
ErrorCode error_of(uint32_t status);

// grpc-message is percent-encoded: bytes outside printable ASCII, and '%' itself, as %XX.
std::string percent_encode(std::string_view text);
// The inverse; a malformed escape is kept as it is, as the gRPC spec asks.
std::string percent_decode(std::string_view text);

// A grpc-timeout value ("200m", "1S": at most 8 digits and one unit of H M S m u n) in whole
// milliseconds, rounded up so that a deadline is never made shorter than asked; nullopt when it
// does not parse.
std::optional<uint64_t> parse_timeout_ms(std::string_view value);

}  // namespace rpcgate::codec::grpc
