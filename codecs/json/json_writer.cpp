// The Python-compatible JSON serializer. Written here rather than taken from nlohmann's dump()
// because dump() prints compact separators, raw UTF-8, Grisu2 doubles (not always the shortest)
// and throws on invalid UTF-8.
#include "codecs/json/json_writer.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "codecs/base64.h"
#include "codecs/json/python_float.h"
#include "codecs/utf8.h"

namespace rpcgate::codec::json {
namespace {

// Bytes that stand for themselves inside a JSON string under ensure_ascii: printable ASCII except
// the quote and the backslash.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x7f; ++c) table[static_cast<size_t>(c)] = c != '"' && c != '\\';
  return table;
}();

void write_u_escape(uint32_t unit, std::string& out) {
  constexpr char kHex[] = "0123456789abcdef";  // Python writes lower-case hex
  char text[6] = {'\\', 'u', kHex[(unit >> 12) & 15], kHex[(unit >> 8) & 15], kHex[(unit >> 4) & 15], kHex[unit & 15]};
  out.append(text, sizeof text);
}

void write_code_point(uint32_t cp, std::string& out) {
  if (cp < 0x10000) {
    write_u_escape(cp, out);
    return;
  }
  cp -= 0x10000;
  write_u_escape(0xd800 + (cp >> 10), out);
  write_u_escape(0xdc00 + (cp & 0x3ff), out);
}

void write_escaped_ascii(unsigned char c, std::string& out) {
  switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    default:
      write_u_escape(c, out);
      break;  // other controls and DEL
  }
}

template <typename Integer>
void write_integer(Integer value, std::string& out) {
  std::array<char, 24> buffer{};
  auto written = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), written.ptr);
}

}  // namespace

void write_unsigned(uint64_t value, std::string& out) { write_integer(value, out); }

void write_json_string(std::string_view text, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t size = text.size();
  out += '"';
  size_t i = 0;
  while (i < size) {
    size_t run = i;
    while (run < size && kPlain[p[run]]) ++run;
    out.append(text.data() + i, run - i);
    i = run;
    if (i == size) break;
    if (p[i] < 0x80) {
      write_escaped_ascii(p[i], out);
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t length = decode_utf8(text.substr(i), cp);
    if (length == 0) {
      cp = 0xfffd;  // one replacement character per byte that starts no valid sequence
      length = 1;
    }
    write_code_point(cp, out);
    i += length;
  }
  out += '"';
}

// Recursive: the depth of any value reaching an encoder is bounded by the decoder that built it.
void write_json(const Json& value, std::string& out) {
  switch (value.type()) {
    case Json::value_t::null:
    case Json::value_t::discarded:
      out += "null";
      break;
    case Json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      break;
    case Json::value_t::number_integer:
      write_integer(value.get<Json::number_integer_t>(), out);
      break;
    case Json::value_t::number_unsigned:
      write_integer(value.get<Json::number_unsigned_t>(), out);
      break;
    case Json::value_t::number_float: {
      double number = value.get<Json::number_float_t>();
      if (std::isfinite(number))
        append_python_double(number, out);
      else
        out += "null";  // Python would write NaN/Infinity, which no JSON parser accepts
      break;
    }
    case Json::value_t::string:
      write_json_string(value.get_ref<const Json::string_t&>(), out);
      break;
    case Json::value_t::binary:
      out += '"';
      append_base64(value.get_binary(), out);
      out += '"';
      break;
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const Json& element : value.get_ref<const Json::array_t&>()) {
        if (!first) out += ", ";
        first = false;
        write_json(element, out);
      }
      out += ']';
      break;
    }
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, member] : value.get_ref<const Json::object_t&>()) {
        if (!first) out += ", ";
        first = false;
        write_json_string(key, out);
        out += ": ";
        write_json(member, out);
      }
      out += '}';
      break;
    }
  }
}

}  // namespace rpcgate::codec::json
