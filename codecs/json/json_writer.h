// JSON text exactly as Python's json.dumps() writes it with its default arguments, appended to a
// caller's buffer, so rpcgate's frames read the same as the legacy services' own.
#pragma once

#include <string>
#include <string_view>

#include "core/message.h"

namespace rpcgate::codec::json {

// Appends `value`: ", " and ": " separators, non-ASCII escaped as \uXXXX (surrogate pairs beyond
// the BMP), doubles in repr() form. Where Python has no answer or a non-JSON one: NaN and
// infinities are written as null, bytes that are not UTF-8 as \ufffd, binary values as a base64
// string. Object keys come out in nlohmann::json's order (sorted), not in insertion order.
void write_json(const Json& value, std::string& out);

// Appends `text` as a quoted, escaped JSON string.
void write_json_string(std::string_view text, std::string& out);

// Appends the decimal digits of `value`.
void write_unsigned(uint64_t value, std::string& out);

}  // namespace rpcgate::codec::json
