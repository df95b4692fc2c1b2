#include "codecs/resp/resp3_frame.h"

#include <charconv>

namespace rpcgate::codec::resp {
namespace {

// The count or length of a header; false when it is not a plain decimal number.
bool parse_length(std::string_view header, uint64_t& value) {
  auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), value);
  return ec == std::errc() && end == header.data() + header.size();
}

}  // namespace

Resp3Frame Resp3Scanner::error(ErrorCode code, std::string message) {
  reset();
  Resp3Frame frame;
  frame.status = Resp3Frame::Status::kError;
  frame.code = code;
  frame.message = std::move(message);
  return frame;
}

Resp3Frame Resp3Scanner::scan(std::string_view input) {
  for (;;) {
    const size_t item = at_;  // a wait for more bytes starts again here
    size_t line_end = input.find("\r\n", item);
    if (line_end == std::string_view::npos) {
      if (input.size() - item > limits_.max_inline_bytes)
        return error(ErrorCode::kTooLarge, "upstream reply line longer than " + std::to_string(limits_.max_inline_bytes));
      return {};
    }
    char type = input[item];
    std::string_view header = input.substr(item + 1, line_end - item - 1);
    size_t next = line_end + 2;
    switch (type) {
      case '+': case '-': case ':': case '_': case ',': case '#': case '(':
        break;  // a whole value on its line
      case '$': case '!': case '=': {  // a blob: its length, then the bytes and CRLF
        if (header == "-1") break;     // RESP2 null bulk
        uint64_t length = 0;
        if (!parse_length(header, length))
          return error(ErrorCode::kUpstreamError, "bad RESP3 blob length '" + std::string(header.substr(0, 32)) + "'");
        if (length > limits_.max_frame_bytes)
          return error(ErrorCode::kTooLarge, "upstream blob of " + std::to_string(length) + " bytes exceeds the limit of " +
                                                 std::to_string(limits_.max_frame_bytes));
        if (input.size() < next + length + 2) return {};
        if (input.substr(next + length, 2) != "\r\n") return error(ErrorCode::kUpstreamError, "RESP3 blob not followed by CRLF");
        next += length + 2;
        break;
      }
      case '*': case '~': case '>': case '%': case '|': {
        if (header == "-1") break;  // RESP2 null array
        uint64_t count = 0;
        if (!parse_length(header, count))
          return error(ErrorCode::kUpstreamError, "bad RESP3 aggregate length '" + std::string(header.substr(0, 32)) + "'");
        if (count > limits_.max_elements)
          return error(ErrorCode::kTooLarge, "upstream aggregate of " + std::to_string(count) +
                                                 " elements exceeds the limit of " + std::to_string(limits_.max_elements));
        if (type == '%' || type == '|') count *= 2;  // maps and attributes hold pairs
        if (type == '|') ++count;                   // an attribute precedes the value it describes
        if (owed_.size() >= limits_.max_depth)
          return error(ErrorCode::kUpstreamError, "upstream reply nested deeper than " + std::to_string(limits_.max_depth));
        at_ = next;
        if (count > 0) {
          owed_.push_back(count);
          continue;  // its first element comes next
        }
        break;
      }
      default:
        return error(ErrorCode::kUpstreamError, std::string("unknown RESP3 type byte '") + type + "'");
    }
    at_ = next;
    // One value is complete: it settles one element of each aggregate it completes.
    while (!owed_.empty() && --owed_.back() == 0) owed_.pop_back();
    if (owed_.empty()) {
      Resp3Frame frame;
      frame.status = Resp3Frame::Status::kFrame;
      frame.length = at_;
      frame.push = input[0] == '>';
      reset();
      return frame;
    }
    if (at_ > limits_.max_request_bytes)
      return error(ErrorCode::kTooLarge, "upstream reply larger than " + std::to_string(limits_.max_request_bytes));
  }
}

Resp3Frame scan_resp3_frame(std::string_view input, const Limits& limits) { return Resp3Scanner(limits).scan(input); }

}  // namespace rpcgate::codec::resp
