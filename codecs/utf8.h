// UTF-8 well-formedness, shared by the codecs: RESP arguments that are not UTF-8 become binary
// values, the json writer escapes code points, and protobuf `string` fields refuse anything else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rpcgate::codec {

// Decodes the sequence at the start of `text` (its first byte >= 0x80). Returns its length, or 0
// when the bytes are not well-formed UTF-8 (overlong forms, surrogates, past U+10FFFF, cut short).
size_t decode_utf8(std::string_view text, uint32_t& code_point);

bool is_valid_utf8(std::string_view text);

// Appends `text` with every byte that starts no valid sequence replaced by U+FFFD.
void append_utf8_replacing(std::string_view text, std::string& out);

}  // namespace rpcgate::codec
