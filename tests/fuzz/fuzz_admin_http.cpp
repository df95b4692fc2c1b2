// libFuzzer target for the admin port's request parser: bytes from anyone who can reach the
// admin port. Nothing may crash or trip a sanitizer; a request fed in random-sized chunks ends
// as it does fed whole (the same request, or refused too); a complete request is within every bound; a refusal says
// why.
//
// Input layout: [chunking seed][limits selector][request bytes]. An odd selector uses tiny
// limits, so that short inputs reach every bound.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "admin/http_request.h"

using namespace rpcgate::admin;
using Status = HttpRequestParser::Status;

namespace {

void check_outcome(const HttpRequestParser& parser, Status status, const HttpLimits& limits) {
  if (status == Status::kComplete) {
    const HttpRequest& request = parser.request();
    if (request.method.empty()) __builtin_trap();
    if (request.path.empty() || request.path.front() != '/') __builtin_trap();
    if (request.path.size() + request.query.size() > limits.max_url_bytes) __builtin_trap();
    if (request.body.size() > limits.max_body_bytes) __builtin_trap();
  } else if (status == Status::kError) {
    int code = parser.error_status();
    if (code != 400 && code != 413 && code != 414 && code != 431) __builtin_trap();
    if (parser.error().empty() || parser.error().find('\n') != std::string::npos) __builtin_trap();
  }
}

bool same_outcome(const HttpRequestParser& a, const HttpRequestParser& b) {
  if (a.status() != b.status()) return false;
  // A request with several faults may be refused for a different one: http-parser reports the
  // URL at the end of each chunk, so a chunk ending inside a long URL finds it too long before
  // a bad character further on is seen.
  if (a.status() == Status::kError) return true;
  if (a.status() == Status::kNeedMore) return true;
  const HttpRequest& x = a.request();
  const HttpRequest& y = b.request();
  return x.method == y.method && x.path == y.path && x.query == y.query && x.body == y.body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint32_t state = data[0] * 2654435761u + 1;  // the chunk sizes: a small xorshift stream
  HttpLimits limits;
  if (data[1] % 2 == 1) limits = HttpLimits{64, 16, 8};
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  HttpRequestParser whole(limits);
  Status status = whole.feed(input);
  check_outcome(whole, status, limits);

  HttpRequestParser chunked(limits);
  std::string_view rest = input;
  while (!rest.empty()) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    size_t chunk = 1 + state % 300;
    if (chunk > rest.size()) chunk = rest.size();
    // A copy, so the parser cannot keep a view into bytes that a later feed no longer offers.
    std::string piece(rest.substr(0, chunk));
    chunked.feed(piece);
    rest.remove_prefix(chunk);
  }
  if (!same_outcome(whole, chunked)) __builtin_trap();
  return 0;
}
