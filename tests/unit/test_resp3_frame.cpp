// scan_resp3_frame: where a RESP3 reply ends, for every type, at every split point, and the
// limits checked at each header.
#include <doctest/doctest.h>

#include <string>

#include "codecs/resp/resp3_frame.h"

using rpcgate::ErrorCode;
using rpcgate::codec::Limits;
using rpcgate::codec::resp::Resp3Frame;
using rpcgate::codec::resp::scan_resp3_frame;

namespace {

// Every proper prefix needs more; the whole frame, with more bytes behind it, is found exactly.
void check_frame(const std::string& frame, bool push = false, const Limits& limits = {}) {
  CAPTURE(frame);
  for (size_t cut = 0; cut < frame.size(); ++cut) {
    CAPTURE(cut);
    CHECK(scan_resp3_frame(std::string_view(frame).substr(0, cut), limits).status == Resp3Frame::Status::kNeedMore);
  }
  Resp3Frame found = scan_resp3_frame(frame + "+NEXT\r\n", limits);
  REQUIRE(found.status == Resp3Frame::Status::kFrame);
  CHECK(found.length == frame.size());
  CHECK(found.push == push);
}

Resp3Frame scan(const std::string& input, const Limits& limits = {}) { return scan_resp3_frame(input, limits); }

}  // namespace

TEST_CASE("simple values on one line") {
  for (const char* frame : {"+OK\r\n", "-ERR x\r\n", ":-12\r\n", "_\r\n", ",3.14\r\n", "#t\r\n", "(123456789012345678901\r\n"})
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
  CHECK(scan(std::string(17, 'x'), limits).code == ErrorCode::kTooLarge);        // a line with no end
  CHECK(scan(std::string(16, 'x'), limits).status == Resp3Frame::Status::kNeedMore);
}
