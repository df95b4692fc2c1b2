// RESP requests (PING, SET, GET) and the one answer each may get, compared byte for byte. Any
// other reply is walked by a small RESP2 reader only to find where it ends, so that it can be
// counted and shown and the next answer read.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <string>

#include "bench/loadgen/workload.h"

namespace rpcgate::loadgen {
namespace {

constexpr size_t kKeyDigits = 12;       // key:000000000000, as redis-benchmark's keys
constexpr size_t kMaxLine = 64u << 10;  // a status, error or header line
constexpr size_t kMaxReplyDepth = 8;
constexpr int64_t kMaxReplyElements = 1 << 20;

void write_digits(char* at, uint64_t value, size_t width) {
  for (size_t i = width; i > 0; --i) {
    at[i - 1] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

enum class Scan { kComplete, kNeedMore, kMalformed };

// The integer on the line [begin, eol), all of it.
bool line_number(std::string_view input, size_t begin, size_t eol, int64_t& out) {
  auto [end, ec] = std::from_chars(input.data() + begin, input.data() + eol, out);
  return ec == std::errc() && end == input.data() + eol && begin < eol;
}

// Moves `pos` past the RESP2 reply that starts there.
Scan scan_reply(std::string_view input, size_t& pos, size_t depth) {
  if (pos >= input.size()) return Scan::kNeedMore;
  char type = input[pos];
  if (std::string_view("+-:$*").find(type) == std::string_view::npos) return Scan::kMalformed;
  size_t eol = input.find("\r\n", pos);
  if (eol == std::string_view::npos) return input.size() - pos > kMaxLine ? Scan::kMalformed : Scan::kNeedMore;
  int64_t number = 0;
  if (type == '+' || type == '-') {
    pos = eol + 2;
    return Scan::kComplete;
  }
  if (!line_number(input, pos + 1, eol, number)) return Scan::kMalformed;
  pos = eol + 2;
  if (type == ':' || number == -1) return Scan::kComplete;
  if (type == '$') {
    if (number < 0 || static_cast<uint64_t>(number) > kMaxFrameBytes) return Scan::kMalformed;
    size_t end = pos + static_cast<size_t>(number);
    if (input.size() < end + 2) return Scan::kNeedMore;
    if (input.compare(end, 2, "\r\n") != 0) return Scan::kMalformed;
    pos = end + 2;
    return Scan::kComplete;
  }
  if (number < 0 || number > kMaxReplyElements || depth >= kMaxReplyDepth) return Scan::kMalformed;
  for (int64_t i = 0; i < number; ++i)
    if (Scan element = scan_reply(input, pos, depth + 1); element != Scan::kComplete) return element;
  return Scan::kComplete;
}

// Compares `input` with the concatenation of `parts`: all of them there (kGood, `length` set),
// input a proper prefix of them (kNeedMore), or a difference (kBad).
Verdict compare_parts(std::string_view input, const std::array<std::string_view, 3>& parts, size_t& length) {
  size_t at = 0;
  for (std::string_view part : parts) {
    size_t have = std::min(part.size(), input.size() - at);
    if (input.compare(at, have, part.substr(0, have)) != 0) return Verdict::kBad;
    if (have < part.size()) return Verdict::kNeedMore;
    at += have;
  }
  length = at;
  return Verdict::kGood;
}

class RespWorkload final : public Workload {
 public:
  RespWorkload(Command command, uint64_t key_space, uint32_t value_size) : command_(command), key_space_(key_space) {
    std::string key = "key:" + std::string(kKeyDigits, '0');
    auto bulk = [](std::string_view text) {
      return "$" + std::to_string(text.size()) + "\r\n" + std::string(text) + "\r\n";
    };
    tag_length_ = std::min<size_t>(kKeyDigits, value_size);
    for (size_t i = 0; i < tag_length_; ++i) tag_modulus_ *= 10;
    std::string value(value_size, 'x');
    switch (command) {
      case Command::kSet:
        request_ = "*3\r\n" + bulk("SET") + bulk(key) + bulk(value);
        value_offset_ = request_.size() - 2 - value_size;
        expected_ = "+OK\r\n";
        break;
      case Command::kGet:
        request_ = "*2\r\n" + bulk("GET") + bulk(key);
        // The answer: "$B\r\n", the key's digits, then the rest of the value and CRLF.
        expected_ = bulk(value);
        bulk_header_ = std::string_view(expected_).substr(0, expected_.size() - value_size - 2);
        value_rest_ = std::string_view(expected_).substr(bulk_header_.size() + tag_length_);
        break;
      default:
        request_ = "*1\r\n" + bulk("PING");
        expected_ = "+PONG\r\n";
        break;
    }
    if (command != Command::kPing) key_offset_ = request_.find("key:") + 4;
  }

  size_t max_request_bytes() const override { return request_.size(); }

  size_t write(uint64_t sequence, InFlightRequest& request, char* out) override {
    std::memcpy(out, request_.data(), request_.size());
    if (command_ == Command::kPing) return request_.size();
    request.key = sequence % key_space_;
    write_digits(out + key_offset_, request.key, kKeyDigits);
    if (command_ == Command::kSet) write_digits(out + value_offset_, request.key % tag_modulus_, tag_length_);
    return request_.size();
  }

  Checked check(std::string_view input, const InFlightRequest* oldest) override {
    std::array<std::string_view, 3> parts{expected_, {}, {}};
    char tag[kKeyDigits];
    if (command_ == Command::kGet) {
      write_digits(tag, oldest->key % tag_modulus_, tag_length_);
      parts = {bulk_header_, std::string_view(tag, tag_length_), value_rest_};
    }
    size_t length = 0;
    switch (compare_parts(input, parts, length)) {
      case Verdict::kGood:
        return {Verdict::kGood, length, 0, {}};
      case Verdict::kNeedMore:
        return {};
      default:
        break;
    }
    size_t end = 0;
    switch (scan_reply(input, end, 0)) {
      case Scan::kNeedMore:
        return {};
      case Scan::kMalformed:
        return {Verdict::kBroken, 0, 0, "malformed RESP reply"};
      case Scan::kComplete:
        break;
    }
    return {Verdict::kBad, end, 0, input.front() == '-' ? "error reply" : "unexpected reply"};
  }

 private:
  Command command_;
  uint64_t key_space_;
  size_t tag_length_ = 0;  // a value starts with the last tag_length_ digits of its key
  uint64_t tag_modulus_ = 1;
  std::string request_;  // the request with key 0 (and key 0's value)
  size_t key_offset_ = 0;
  size_t value_offset_ = 0;
  std::string expected_;  // the answer; for GET, key 0's
  std::string_view bulk_header_;
  std::string_view value_rest_;
};

}  // namespace

std::unique_ptr<Workload> make_resp_workload(Command command, uint64_t key_space, uint32_t value_size) {
  return std::make_unique<RespWorkload>(command, key_space, value_size);
}

}  // namespace rpcgate::loadgen
