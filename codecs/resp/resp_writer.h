// Low-level RESP appenders shared by the server and client encoders: type headers, bulk strings,
// simple lines and number text, each written straight into the caller's output buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rpcgate::codec::resp {

// "<type><n>\r\n": array and map headers, bulk lengths, integers.
void append_header(std::string& out, char type, int64_t n);
void append_unsigned_header(std::string& out, char type, uint64_t n);

// "$<len>\r\n<bytes>\r\n".
void append_bulk(std::string& out, std::string_view bytes);

// "<type><text>\r\n" for `+` and `-` lines; CR and LF inside `text` become spaces, since a
// simple line cannot carry them.
void append_simple(std::string& out, char type, std::string_view text);

// Writes the shortest round-trip text of `value` in nlohmann's notation ("3.0", "0.1", "1e+20",
// "-1.5e-07") into `buf` and returns its length; "inf", "-inf" and "nan" for the values JSON
// cannot hold.
inline constexpr size_t kDoubleTextMax = 32;
size_t format_double(double value, char (&buf)[kDoubleTextMax]);

}  // namespace rpcgate::codec::resp
