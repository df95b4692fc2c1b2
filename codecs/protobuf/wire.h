// One protobuf frame in and out: parsing a body with a bounded recursion depth, and serializing a
// message straight into the output after its 4-byte big-endian length.
#pragma once

#include <google/protobuf/message_lite.h>

#include <climits>
#include <cstddef>
#include <string>
#include <string_view>

#include "codecs/codec.h"

namespace rpcgate::codec::protobuf {

// The protocol's byte order for the length prefix: network order, whatever the listener says.
inline constexpr ByteOrder kByteOrder = ByteOrder::kBig;

// Protobuf reads at most INT_MAX bytes at once, whatever the configured limit.
size_t max_body_bytes(const Limits& limits);

// The protobuf recursion limit that lets a Value nested `max_depth` containers deep through (an
// object level costs three messages: Value, Struct and a map entry), so the codec's own exact
// depth check decides, and stops the parser's recursion not far beyond it.
int recursion_limit(size_t max_depth);

// Replaces `message` with the parse of `body`, which must be exactly one message.
bool parse_message(std::string_view body, int recursion_limit, google::protobuf::MessageLite& message);

// Appends one frame: the length, `message`, then `payload` as field 4 (bytes) when it is not
// empty. Field 4 is `payload` in both Request and Response; writing it by hand saves copying the
// bytes into the message first (protobuf readers accept fields in any order). False, with `out`
// unchanged, when the frame cannot be announced in 4 bytes.
bool write_frame(const google::protobuf::MessageLite& message, std::string_view payload, std::string& out);

}  // namespace rpcgate::codec::protobuf
