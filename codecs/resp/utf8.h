// UTF-8 validation for RESP arguments and replies: bytes that are not valid UTF-8 must become
// Json binary values, because nlohmann refuses to serialise such strings.
#pragma once

#include <string_view>

namespace rpcgate::codec::resp {

// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

}  // namespace rpcgate::codec::resp
