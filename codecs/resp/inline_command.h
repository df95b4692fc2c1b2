// Inline commands: a line of words ending in "\n" or "\r\n", as telnet sends. Finding the line
// end (incrementally, within the inline limit) and splitting it into words like Redis's
// sdssplitargs: "double quotes" with \n \r \t \b \a \\ \" \xHH escapes, 'single quotes' with \'.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/codec.h"
#include "codecs/resp/arg_span.h"

namespace rpcgate::codec::resp {

class InlineReader {
 public:
  enum class Outcome : uint8_t {
    kLine,      // `line` is the command's text without its line ending; `end` follows the '\n'
    kNeedMore,  // no line end yet within the window
    kTooLarge,  // the line is longer than Limits::max_inline_bytes
  };
  struct Result {
    Outcome outcome = Outcome::kNeedMore;
    std::string_view line;
    size_t end = 0;
  };

  // The line starts at input[start]; no byte at or past `window` is read. Resumes the search
  // where the previous call for the same line stopped, so a long line arriving in small reads
  // costs linear time.
  Result read(std::string_view input, size_t start, size_t window, const Limits& limits);

 private:
  size_t scanned_ = 0;           // input offset up to which the current line has no '\n'
  bool stopped_at_nul_ = false;  // the current line has a NUL before any '\n'
};

// Splits `line` into words, unescaped into `scratch` (cleared first) and described by `spans`.
// False for unbalanced quotes, or a closing quote not followed by a space or the line end.
bool split_inline_args(std::string_view line, std::string& scratch, std::vector<ArgSpan>& spans);

}  // namespace rpcgate::codec::resp
