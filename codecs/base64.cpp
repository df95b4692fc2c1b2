// Base64 encoding into a caller's buffer (no decoder: rpcgate never reads base64 back).
#include "codecs/base64.h"

namespace rpcgate::codec {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

void append_base64(std::span<const uint8_t> bytes, std::string& out) {
  size_t at = out.size();
  out.resize(at + base64_size(bytes.size()));
  char* p = out.data() + at;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = uint32_t{bytes[i]} << 16 | uint32_t{bytes[i + 1]} << 8 | bytes[i + 2];
    *p++ = kAlphabet[v >> 18];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
    *p++ = kAlphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 0) return;
  uint32_t v = uint32_t{bytes[i]} << 16 | (rest == 2 ? uint32_t{bytes[i + 1]} << 8 : 0);
  *p++ = kAlphabet[v >> 18];
  *p++ = kAlphabet[(v >> 12) & 63];
  *p++ = rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
  *p++ = '=';
}

}  // namespace rpcgate::codec
