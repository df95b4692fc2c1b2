// Standard base64 (RFC 4648, padded): how binary values travel where only text fits, in JSON
// strings and in google.protobuf.Value strings (the proto3 JSON mapping of bytes does the same).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace rpcgate::codec {

inline size_t base64_size(size_t bytes) { return (bytes + 2) / 3 * 4; }

// Appends the encoding of `bytes` to `out`.
void append_base64(std::span<const uint8_t> bytes, std::string& out);

}  // namespace rpcgate::codec
