// UTF-8 validation and repair, after RFC 3629's table of well-formed sequences.
#include "codecs/utf8.h"

#include <cstring>

namespace rpcgate::codec {
namespace {

constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD

// Length of the ASCII run at the start of `text`. Eight bytes at a time: almost every RESP
// argument and JSON string is plain ASCII. memcpy keeps the load free of alignment assumptions.
size_t ascii_prefix(std::string_view text) {
  size_t i = 0;
  for (uint64_t word; i + 8 <= text.size(); i += 8) {
    std::memcpy(&word, text.data() + i, sizeof word);
    if ((word & 0x8080808080808080ull) != 0) break;
  }
  while (i < text.size() && static_cast<unsigned char>(text[i]) < 0x80) ++i;
  return i;
}

}  // namespace

size_t decode_utf8(std::string_view text, uint32_t& code_point) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  unsigned char lead = p[0];
  size_t length = 0;
  uint32_t minimum = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
    minimum = 0x80;
    code_point = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    minimum = 0x800;
    code_point = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    minimum = 0x10000;
    code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    code_point = code_point << 6 | (p[i] & 0x3f);
  }
  if (code_point < minimum || code_point > 0x10ffff || (code_point >= 0xd800 && code_point <= 0xdfff)) return 0;
  return length;
}

bool is_valid_utf8(std::string_view text) {
  while (!text.empty()) {
    text.remove_prefix(ascii_prefix(text));
    if (text.empty()) break;
    uint32_t code_point = 0;
    size_t length = decode_utf8(text, code_point);
    if (length == 0) return false;
    text.remove_prefix(length);
  }
  return true;
}

void append_utf8_replacing(std::string_view text, std::string& out) {
  while (!text.empty()) {
    size_t ascii = ascii_prefix(text);
    out.append(text.substr(0, ascii));
    text.remove_prefix(ascii);
    if (text.empty()) break;
    uint32_t code_point = 0;
    size_t length = decode_utf8(text, code_point);
    if (length == 0) {
      out.append(kReplacement);
      length = 1;
    } else {
      out.append(text.substr(0, length));
    }
    text.remove_prefix(length);
  }
}

}  // namespace rpcgate::codec
