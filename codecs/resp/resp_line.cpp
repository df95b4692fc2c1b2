// RESP header lines, judged like hiredis's string2ll.
#include "codecs/resp/resp_line.h"

#include <hiredis/read.h>

#include <limits>

namespace rpcgate::codec::resp {

bool parse_resp_integer(std::string_view text, int64_t& value) {
  if (text.empty()) return false;
  if (text == "0") {
    value = 0;
    return true;
  }
  size_t i = 0;
  bool negative = text[0] == '-';
  if (negative) ++i;
  if (i == text.size() || text[i] < '1' || text[i] > '9') return false;
  uint64_t v = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return false;
    auto digit = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    v = v * 10 + digit;
  }
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (negative) {
    if (v > kMax + 1) return false;
    value = v == kMax + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
  } else {
    if (v > kMax) return false;
    value = static_cast<int64_t>(v);
  }
  return true;
}

HeaderLine read_header_line(std::string_view bytes) {
  HeaderLine line;
  const size_t limit = bytes.size() < kMaxIntegerText + 2 ? bytes.size() : kMaxIntegerText + 2;
  for (size_t i = 0; i + 1 < limit; ++i) {
    if (bytes[i] == '\r' && bytes[i + 1] == '\n') {
      line.state = parse_resp_integer(bytes.substr(0, i), line.value) ? HeaderLine::State::kComplete
                                                                      : HeaderLine::State::kInvalid;
      line.length = i + 2;
      return line;
    }
  }
  // No CRLF among the first kMaxIntegerText + 2 bytes: the text is at least 21 bytes long.
  if (bytes.size() >= kMaxIntegerText + 2) line.state = HeaderLine::State::kInvalid;
  return line;
}

bool read_frame_header(std::string_view frame, char& type, int64_t& number, size_t& header_bytes) {
  if (frame.empty()) return false;
  const HeaderLine line = read_header_line(frame.substr(1));
  if (line.state != HeaderLine::State::kComplete) return false;
  type = frame[0];
  number = line.value;
  header_bytes = 1 + line.length;
  return true;
}

std::string_view command_word(std::string_view frame) {
  char type = 0;
  int64_t number = 0;
  size_t header = 0;
  if (!read_frame_header(frame, type, number, header) || type != '*' || number < 1) return {};
  frame.remove_prefix(header);
  if (!read_frame_header(frame, type, number, header) || type != '$' || number < 0 ||
      frame.size() < header + static_cast<size_t>(number))
    return {};
  return frame.substr(header, static_cast<size_t>(number));
}

char type_byte(int redis_type) {
  switch (redis_type) {
    case REDIS_REPLY_STRING:
      return '$';
    case REDIS_REPLY_ARRAY:
      return '*';
    case REDIS_REPLY_INTEGER:
      return ':';
    case REDIS_REPLY_STATUS:
      return '+';
    case REDIS_REPLY_ERROR:
      return '-';
    default:
      return '?';
  }
}

}  // namespace rpcgate::codec::resp
