// Inline commands: the line end within the inline limit, and sdssplitargs-style word splitting.
#include "codecs/resp/inline_command.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace rpcgate::codec::resp {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

InlineReader::Result InlineReader::read(std::string_view input, size_t start, size_t window, const Limits& limits) {
  // A line of at most max_inline_bytes, plus "\r\n", must end within this bound.
  const size_t max_inline = std::min(limits.max_inline_bytes, SIZE_MAX - 2);  // no wrap below
  const size_t bound = max_inline + 2;
  const size_t limit = window - start > bound ? start + bound : window;
  size_t from = std::max(start, scanned_);
  Result result;
  // Redis looks for the line end with strchr, which stops at a NUL byte: a line with a NUL
  // before its end never ends, until it is too long.
  const void* newline = nullptr;
  if (!stopped_at_nul_ && from < limit) {
    const std::string_view searched = input.substr(from, limit - from);
    const size_t end = searched.find_first_of(std::string_view("\n\0", 2));
    if (end != std::string_view::npos && searched[end] == '\n') newline = searched.data() + end;
    stopped_at_nul_ = end != std::string_view::npos && searched[end] == '\0';
  }
  if (newline == nullptr) {
    scanned_ = std::max(from, limit);
    // Monotone: once this many bytes sit in the window without a line end, no later read can
    // make the line short enough again.
    if (window - start >= bound) result.outcome = Outcome::kTooLarge;
    return result;
  }
  size_t at = static_cast<size_t>(static_cast<const char*>(newline) - input.data());
  scanned_ = 0;
  std::string_view line = input.substr(start, at - start);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > max_inline) {
    result.outcome = Outcome::kTooLarge;
    return result;
  }
  result.outcome = Outcome::kLine;
  result.line = line;
  result.end = at + 1;
  return result;
}

bool split_inline_args(std::string_view line, std::string& scratch, std::vector<ArgSpan>& spans) {
  scratch.clear();
  spans.clear();
  size_t i = 0;
  const size_t n = line.size();
  for (;;) {
    while (i < n && is_space(line[i])) ++i;
    if (i == n) return true;
    const size_t word_start = scratch.size();
    // A word is a run of plain, "double-quoted" and 'single-quoted' pieces; a closing quote must
    // end the word.
    while (i < n && !is_space(line[i])) {
      char c = line[i];
      if (c == '"') {
        ++i;
        for (;;) {
          if (i == n) return false;  // unbalanced
          c = line[i];
          if (c == '"') {
            ++i;
            if (i < n && !is_space(line[i])) return false;
            break;
          }
          if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && hex_value(line[i + 2]) >= 0 &&
              hex_value(line[i + 3]) >= 0) {
            scratch.push_back(static_cast<char>(hex_value(line[i + 2]) * 16 + hex_value(line[i + 3])));
            i += 4;
          } else if (c == '\\' && i + 1 < n) {
            char e = line[i + 1];
            switch (e) {
              case 'n':
                e = '\n';
                break;
              case 'r':
                e = '\r';
                break;
              case 't':
                e = '\t';
                break;
              case 'b':
                e = '\b';
                break;
              case 'a':
                e = '\a';
                break;
              default:
                break;  // \\ \" and any other escaped byte stand for themselves
            }
            scratch.push_back(e);
            i += 2;
          } else {
            scratch.push_back(c);
            ++i;
          }
        }
        if (i == n || is_space(line[i])) break;
      } else if (c == '\'') {
        ++i;
        for (;;) {
          if (i == n) return false;
          c = line[i];
          if (c == '\'') {
            ++i;
            if (i < n && !is_space(line[i])) return false;
            break;
          }
          if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
            scratch.push_back('\'');
            i += 2;
          } else {
            scratch.push_back(c);
            ++i;
          }
        }
        if (i == n || is_space(line[i])) break;
      } else {
        scratch.push_back(c);
        ++i;
      }
    }
    spans.push_back(ArgSpan{word_start, scratch.size() - word_start});
  }
}

}  // namespace rpcgate::codec::resp
