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

// The header of the frame at the start of `frame`: its type byte and its number ("*3", ":12",
// "$5"); false when it does not start with a whole, valid header line.
bool read_frame_header(std::string_view frame, char& type, int64_t& number, size_t& header_bytes);

// The first word of a request frame that is an array of bulk strings ("*N\r\n$L\r\nNAME..."), as
// the client cased it: its command. Empty for any other start, or when the word is not all there.
std::string_view command_word(std::string_view frame);

// The wire byte of a hiredis reply type: '$', '*', ':', '+', '-'.
char type_byte(int redis_type);

}  // namespace rpcgate::codec::resp
