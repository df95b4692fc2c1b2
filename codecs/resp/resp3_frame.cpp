#include "codecs/resp/resp3_frame.h"

#include <charconv>
#include <vector>

namespace rpcgate::codec::resp {
namespace {

Resp3Frame error(ErrorCode code, std::string message) {
  Resp3Frame frame;
  frame.status = Resp3Frame::Status::kError;
  frame.code = code;
  frame.message = std::move(message);
  return frame;
}

// The count or length of a header; false when it is not a plain decimal number.
bool parse_length(std::string_view header, uint64_t& value) {
  auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), value);
  return ec == std::errc() && end == header.data() + header.size();
}

}  // namespace

Resp3Frame scan_resp3_frame(std::string_view input, const Limits& limits) {
  // Elements still owed by each open aggregate, innermost last.
  std::vector<uint64_t> owed;
  size_t at = 0;
  for (;;) {
    size_t line_end = input.find("\r\n", at);
    if (line_end == std::string_view::npos) {
      if (input.size() - at > limits.max_inline_bytes)
        return error(ErrorCode::kTooLarge, "upstream reply line longer than " + std::to_string(limits.max_inline_bytes));
      return {};
    }
    char type = input[at];
    std::string_view header = input.substr(at + 1, line_end - at - 1);
    at = line_end + 2;
    switch (type) {
      case '+': case '-': case ':': case '_': case ',': case '#': case '(':
        break;  // a whole value on its line
      case '$': case '!': case '=': {  // a blob: its length, then the bytes and CRLF
        if (header == "-1") break;     // RESP2 null bulk
        uint64_t length = 0;
        if (!parse_length(header, length))
          return error(ErrorCode::kUpstreamError, "bad RESP3 blob length '" + std::string(header.substr(0, 32)) + "'");
        if (length > limits.max_frame_bytes)
          return error(ErrorCode::kTooLarge, "upstream blob of " + std::to_string(length) + " bytes exceeds the limit of " +
                                                 std::to_string(limits.max_frame_bytes));
        if (input.size() < at + length + 2) return {};
        if (input.substr(at + length, 2) != "\r\n") return error(ErrorCode::kUpstreamError, "RESP3 blob not followed by CRLF");
        at += length + 2;
        break;
      }
      case '*': case '~': case '>': case '%': case '|': {
        if (header == "-1") break;  // RESP2 null array
        uint64_t count = 0;
        if (!parse_length(header, count))
          return error(ErrorCode::kUpstreamError, "bad RESP3 aggregate length '" + std::string(header.substr(0, 32)) + "'");
        if (count > limits.max_elements)
          return error(ErrorCode::kTooLarge, "upstream aggregate of " + std::to_string(count) +
                                                 " elements exceeds the limit of " + std::to_string(limits.max_elements));
        if (type == '%' || type == '|') count *= 2;  // maps and attributes hold pairs
        if (type == '|') ++count;                   // an attribute precedes the value it describes
        if (owed.size() >= limits.max_depth)
          return error(ErrorCode::kUpstreamError, "upstream reply nested deeper than " + std::to_string(limits.max_depth));
        if (count > 0) {
          owed.push_back(count);
          continue;  // its first element comes next
        }
        break;
      }
      default:
        return error(ErrorCode::kUpstreamError, std::string("unknown RESP3 type byte '") + type + "'");
    }
    // One value is complete: it settles one element of each aggregate it completes.
    while (!owed.empty() && --owed.back() == 0) owed.pop_back();
    if (owed.empty()) {
      Resp3Frame frame;
      frame.status = Resp3Frame::Status::kFrame;
      frame.length = at;
      frame.push = input[0] == '>';
      return frame;
    }
    if (at > limits.max_request_bytes)
      return error(ErrorCode::kTooLarge, "upstream reply larger than " + std::to_string(limits.max_request_bytes));
  }
}

}  // namespace rpcgate::codec::resp
