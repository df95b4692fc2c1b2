// Finds where one RESP2 or RESP3 reply ends, without building it: for replies forwarded byte for
// byte (hiredis 0.14's reader knows RESP2 only, and builds what it reads). Every count and
// length is checked against the limits when its header is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/codec.h"

namespace rpcgate::codec::resp {

struct Resp3Frame {
  enum class Status : uint8_t { kNeedMore, kFrame, kError };
  Status status = Status::kNeedMore;
  size_t length = 0;                  // kFrame: the bytes of the whole reply
  bool push = false;                  // kFrame: a `>` push, which answers no request
  ErrorCode code = ErrorCode::kNone;  // kError
  std::string message;
  // kError: the reply is well formed so far, only larger than the limits; Resp3Scanner::discard
  // can pass over the rest of it.
  bool oversized = false;
};

// Scans one reply across reads: each call is handed the reply from its first byte, with the
// bytes handed before and any new ones (the ClientCodec::decode contract), and goes on from
// where the last call stopped, so a reply costs O(its size) however it is split.
class Resp3Scanner {
 public:
  explicit Resp3Scanner(const Limits& limits) : limits_(limits) {}

  Resp3Frame scan(std::string_view input);

  // After scan() found the reply oversized: passes over the rest of it, with no limit on its
  // size, holding none of it. `input` starts at the first byte not consumed yet. Returns the
  // bytes to consume (all of a blob's bytes that arrived, every whole line), and sets `done`
  // once the reply has ended; a malformed reply is a kError frame in `error`.
  size_t discard(std::string_view input, bool& done, Resp3Frame& error);

  // Forgets the reply part-way through (the input is no longer the one scanned).
  void reset() {
    at_ = 0;
    blob_left_ = 0;
    discarding_ = false;
    owed_.clear();
  }

 private:
  Resp3Frame error(ErrorCode code, std::string message, bool oversized = false);

  Limits limits_;
  size_t at_ = 0;               // where the first byte not yet scanned is
  uint64_t blob_left_ = 0;      // in a blob: its bytes still to come, its CRLF included
  bool discarding_ = false;     // discard(): sizes are not limited
  std::vector<uint64_t> owed_;  // elements still owed by each open aggregate, innermost last
};

// One reply at the start of `input`, scanned afresh.
Resp3Frame scan_resp3_frame(std::string_view input, const Limits& limits);

}  // namespace rpcgate::codec::resp
