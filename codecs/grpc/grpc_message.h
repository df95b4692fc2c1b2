// gRPC's message framing inside an HTTP/2 stream: a 1-byte compressed flag, a 4-byte big-endian
// length, the message; and gzip, the one compression rpcgate accepts from clients.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rpcgate::codec::grpc {

inline constexpr size_t kPrefixBytes = 5;

// The length a message prefix announces; `prefix` holds at least kPrefixBytes.
uint32_t announced_length(std::string_view prefix);

// How large a body holding `held` grows with `more`: at least what they make together, and once
// the message prefix is among them, at least the prefix and the length it announces, so that an
// oversized message is refused before its bytes are held.
size_t body_bound(std::string_view held, std::string_view more);

// The one message of a unary call's body: false, with `error`, unless the body is exactly one
// whole message. `message` views into `body`.
bool cut_message(std::string_view body, bool& compressed, std::string_view& message, std::string& error);

// Appends the prefix and `message` (uncompressed) to `out`.
void append_message(std::string_view message, std::string& out);

// Inflates a gzip member into `out`, never holding more than `max_bytes` of it: false, with
// `error`, for bad data or a result over the bound ("too large" starts the message then).
bool gunzip(std::string_view compressed, size_t max_bytes, std::string& out, std::string& error, bool& too_large);

}  // namespace rpcgate::codec::grpc
