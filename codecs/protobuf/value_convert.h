// Converting the canonical model's JSON values to and from protobuf's: google.protobuf.Value
// <-> nlohmann::json directly (no JSON text in between), and text into proto3 `string` fields.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "core/message.h"

namespace rpcgate::codec::protobuf {

// Moves `value` into `out` (its strings are left empty). Nesting is counted in containers, as the
// json codec counts it: false, with `out` unspecified, when it is deeper than `max_depth`.
// A number that is a whole value of magnitude below 2^53 becomes a JSON integer, as a JSON reader
// would see it ("n": 1000 stays 1000, not 1000.0); any other number stays a double.
bool value_to_json(google::protobuf::Value& value, size_t max_depth, Json& out);

// Writes `source` into `out`. Every number becomes a double (Value has no integers: integers past
// 2^53 lose precision, as in protobuf's own JSON mapping); a binary value becomes its base64 text;
// strings that are not UTF-8 get U+FFFD for each bad byte, since protobuf refuses them.
void json_to_value(const Json& source, google::protobuf::Value& out);

// The bytes of a binary value: a binary params/result travels whole in the `payload` field.
inline std::string_view binary_bytes(const Json& binary) {
  const auto& bytes = binary.get_binary();
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Sets a proto3 `string` field to `text`, repairing it when it is not UTF-8.
void assign_utf8(std::string& field, std::string_view text);

}  // namespace rpcgate::codec::protobuf
