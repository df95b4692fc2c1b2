// RESP header lines ("<integer>\r\n" after a type byte), read with the same strictness as
// hiredis's string2ll, so that a header we inspect ourselves is judged exactly as the reader
// judges it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rpcgate::codec::resp {

// The longest text of a 64-bit integer ("-9223372036854775808").
inline constexpr size_t kMaxIntegerText = 20;

// Strict decimal: optional '-', no leading zeros, no '+', no spaces, no overflow.
bool parse_resp_integer(std::string_view text, int64_t& value);

struct HeaderLine {
  enum class State : uint8_t {
    kIncomplete,  // no CRLF yet, and what arrived could still be a valid header
    kInvalid,     // not an integer, or already too long to be one
    kComplete,
  };
  State state = State::kIncomplete;
  int64_t value = 0;
  size_t length = 0;  // header bytes including the CRLF, when complete
};

// Reads the header line at the start of `bytes` (the bytes after a type byte). Looks at no more
// than kMaxIntegerText + 2 bytes, so it is cheap to call on every partial read.
HeaderLine read_header_line(std::string_view bytes);

// The wire byte of a hiredis reply type: '$', '*', ':', '+', '-'.
char type_byte(int redis_type);

}  // namespace rpcgate::codec::resp
