// scan_resp3_frame and Resp3Scanner: where a RESP2/RESP3 reply ends, for every type, at every
// split point, fed whole or a piece at a time; the limits checked at each header; an oversized
// reply passed over without being held.
#include <doctest/doctest.h>

#include <string>

#include "codecs/resp/resp3_frame.h"

using rpcgate::ErrorCode;
using rpcgate::codec::Limits;
using rpcgate::codec::resp::Resp3Frame;
using rpcgate::codec::resp::Resp3Scanner;
using rpcgate::codec::resp::scan_resp3_frame;

namespace {

// Every proper prefix needs more; the whole frame, with more bytes behind it, is found exactly,
// also by one scanner handed the growing input a byte at a time (the resumed scan).
void check_frame(const std::string& frame, bool push = false, const Limits& limits = {}) {
  CAPTURE(frame);
  for (size_t cut = 0; cut < frame.size(); ++cut) {
    CAPTURE(cut);
    CHECK(scan_resp3_frame(std::string_view(frame).substr(0, cut), limits).status == Resp3Frame::Status::kNeedMore);
  }
  Resp3Scanner scanner(limits);
  const std::string stream = frame + "+NEXT\r\n";
  for (size_t cut = 0; cut < frame.size(); ++cut)
    REQUIRE(scanner.scan(std::string_view(stream).substr(0, cut)).status == Resp3Frame::Status::kNeedMore);
  Resp3Frame resumed = scanner.scan(stream);
  REQUIRE(resumed.status == Resp3Frame::Status::kFrame);
  CHECK(resumed.length == frame.size());
  // The scanner starts afresh on the next reply.
  Resp3Frame next = scanner.scan(std::string_view(stream).substr(frame.size()));
  CHECK(next.status == Resp3Frame::Status::kFrame);
  CHECK(next.length == 7);
  Resp3Frame found = scan_resp3_frame(frame + "+NEXT\r\n", limits);
  REQUIRE(found.status == Resp3Frame::Status::kFrame);
  CHECK(found.length == frame.size());
  CHECK(found.push == push);
}

Resp3Frame scan(const std::string& input, const Limits& limits = {}) { return scan_resp3_frame(input, limits); }

}  // namespace

TEST_CASE("simple values on one line") {
  for (const char* frame :
       {"+OK\r\n", "-ERR x\r\n", ":-12\r\n", "_\r\n", ",3.14\r\n", "#t\r\n", "(123456789012345678901\r\n"})
    check_frame(frame);
}

TEST_CASE("blobs: bulk, blob error, verbatim, and RESP2 nulls") {
  check_frame("$5\r\nhello\r\n");
  check_frame("$0\r\n\r\n");
  check_frame("$4\r\na\r\nb\r\n");  // CRLF inside a blob is data
  check_frame("!3\r\nERR\r\n");
  check_frame("=8\r\ntxt:abcd\r\n");
  check_frame("$-1\r\n");
  check_frame("*-1\r\n");
}

TEST_CASE("aggregates, nested, maps count pairs, attributes precede a value") {
  check_frame("*0\r\n");
  check_frame("*2\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n");
  check_frame("%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n%0\r\n");
  check_frame("~2\r\n:1\r\n:2\r\n");
  check_frame("|1\r\n+key\r\n+value\r\n:42\r\n");
  check_frame(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", true);
  check_frame("*3\r\n*0\r\n%0\r\n~1\r\n_\r\n");
}

TEST_CASE("malformed input is an error, not a wait") {
  CHECK(scan("?3\r\n").status == Resp3Frame::Status::kError);
  CHECK(scan("$x\r\nab\r\n").status == Resp3Frame::Status::kError);
  CHECK(scan("*1x\r\n").status == Resp3Frame::Status::kError);
  CHECK(scan("$2\r\nabXY").status == Resp3Frame::Status::kError);  // blob not followed by CRLF
}

TEST_CASE("limits are checked at the header, before the bytes arrive") {
  Limits limits;
  limits.max_frame_bytes = 10;
  limits.max_elements = 3;
  limits.max_depth = 2;
  limits.max_inline_bytes = 16;
  Resp3Frame big = scan("$11\r\n", limits);
  CHECK(big.status == Resp3Frame::Status::kError);
  CHECK(big.code == ErrorCode::kTooLarge);
  CHECK(scan("$10\r\n", limits).status == Resp3Frame::Status::kNeedMore);
  CHECK(scan("*4\r\n", limits).code == ErrorCode::kTooLarge);
  CHECK(scan("*3\r\n", limits).status == Resp3Frame::Status::kNeedMore);
  CHECK(scan("*1\r\n*1\r\n:1\r\n", limits).status == Resp3Frame::Status::kFrame);
  CHECK(scan("*1\r\n*1\r\n*1\r\n", limits).status == Resp3Frame::Status::kError);  // depth 3
  CHECK(scan(std::string(17, 'x'), limits).code == ErrorCode::kTooLarge);          // a line with no end
  CHECK(scan(std::string(16, 'x'), limits).status == Resp3Frame::Status::kNeedMore);
}

TEST_CASE("a reply over the limits is passed over, a piece at a time, and the next one is found") {
  Limits limits;
  limits.max_frame_bytes = 4;
  limits.max_elements = 2;
  const std::string big = "*3\r\n$10\r\n0123456789\r\n:1\r\n*1\r\n$2\r\nab\r\n";
  const std::string stream = big + "+NEXT\r\n";
  for (size_t piece : {size_t{1}, size_t{3}, size_t{7}, stream.size()}) {
    CAPTURE(piece);
    Resp3Scanner scanner(limits);
    std::string buffer;
    size_t fed = 0;
    Resp3Frame first;
    while (first.status == Resp3Frame::Status::kNeedMore && fed < stream.size()) {
      buffer.append(stream.substr(fed, piece));
      fed += std::min(piece, stream.size() - fed);
      first = scanner.scan(buffer);
    }
    REQUIRE(first.status == Resp3Frame::Status::kError);
    CHECK(first.oversized);
    CHECK(first.code == ErrorCode::kTooLarge);
    // Discarding drops what it has passed over: the buffer never holds the whole reply.
    bool done = false;
    size_t dropped = 0;
    for (;;) {
      Resp3Frame failure;
      size_t n = scanner.discard(buffer, done, failure);
      REQUIRE(failure.status == Resp3Frame::Status::kNeedMore);
      buffer.erase(0, n);
      dropped += n;
      if (done || fed == stream.size()) break;
      buffer.append(stream.substr(fed, piece));
      fed += std::min(piece, stream.size() - fed);
    }
    REQUIRE(done);
    CHECK(dropped == big.size());
    CHECK(buffer + stream.substr(fed) == "+NEXT\r\n");
    CHECK(scanner.scan("+NEXT\r\n").length == 7);
  }
}

TEST_CASE("headers no server sends are garbage, not oversized replies") {
  Limits limits;
  limits.max_frame_bytes = 4;
  limits.max_elements = 2;
  CHECK(scan("$5\r\n", limits).oversized);
  CHECK_FALSE(scan("$4611686018427387904\r\n", limits).oversized);
  CHECK(scan("*3\r\n", limits).oversized);
  CHECK_FALSE(scan("*3000000000\r\n", limits).oversized);
  CHECK_FALSE(scan("?\r\n", limits).oversized);
}

TEST_CASE("a malformed reply found while passing over one is an error") {
  Limits limits;
  limits.max_frame_bytes = 1;
  Resp3Scanner scanner(limits);
  REQUIRE(scanner.scan("*2\r\n$3\r\n").oversized);
  bool done = false;
  Resp3Frame failure;
  scanner.discard("*2\r\n$3\r\nabcXY", done, failure);
  CHECK(failure.status == Resp3Frame::Status::kError);
  CHECK_FALSE(done);
}
