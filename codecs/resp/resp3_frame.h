// Finds where one RESP3 reply ends, without building it: for replies forwarded byte for byte
// from a Redis that a client switched to RESP3 (hiredis 0.14's reader knows RESP2 only). Every
// count and length is checked against the limits when its header is read.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "codecs/codec.h"

namespace rpcgate::codec::resp {

struct Resp3Frame {
  enum class Status : uint8_t { kNeedMore, kFrame, kError };
  Status status = Status::kNeedMore;
  size_t length = 0;   // kFrame: the bytes of the whole reply
  bool push = false;   // kFrame: a `>` push, which answers no request
  ErrorCode code = ErrorCode::kNone;  // kError
  std::string message;
};

Resp3Frame scan_resp3_frame(std::string_view input, const Limits& limits);

}  // namespace rpcgate::codec::resp
