// libFuzzer target for scan_resp3_frame and Resp3Scanner (RESP2/RESP3 replies forwarded as they
// are): it must not crash or trip a sanitizer; a frame it finds lies within the input and is
// found again, at the same length, when more bytes follow; every proper prefix of a found frame
// needs more bytes; one scanner handed the input growing in pieces finds what a fresh scan of
// the whole finds; an oversized reply passed over in pieces ends where the unlimited scan ends.
//
// Input layout: [limits selector byte][stream].
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codecs/resp/resp3_frame.h"

using rpcgate::codec::Limits;
using rpcgate::codec::resp::Resp3Frame;
using rpcgate::codec::resp::Resp3Scanner;
using rpcgate::codec::resp::scan_resp3_frame;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Limits limits;
  limits.max_frame_bytes = 64;
  limits.max_request_bytes = 512;
  limits.max_elements = 16;
  limits.max_inline_bytes = 128;
  limits.max_depth = 1 + data[0] % 12;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  Resp3Frame found = scan_resp3_frame(input, limits);
  // Resumed: the same input handed in growing pieces gives the same outcome.
  Resp3Scanner resumed(limits);
  Resp3Frame last;
  const size_t step = 1 + data[0] % 7;
  for (size_t cut = 0; cut <= input.size(); cut += step) {
    last = resumed.scan(input.substr(0, cut));
    if (last.status != Resp3Frame::Status::kNeedMore) break;
  }
  if (last.status == Resp3Frame::Status::kNeedMore) last = resumed.scan(input);
  if (last.status != found.status || last.length != found.length || last.oversized != found.oversized) __builtin_trap();
  if (found.oversized) {
    // Passed over a piece at a time, dropping what is passed: it ends where a scan with no size
    // limit ends.
    Limits unlimited = limits;
    unlimited.max_frame_bytes = unlimited.max_elements = unlimited.max_request_bytes = SIZE_MAX;
    Resp3Frame whole = scan_resp3_frame(input, unlimited);
    size_t dropped = 0;
    bool done = false;
    Resp3Frame failure;
    for (size_t have = std::min(input.size(), step); !done; have = std::min(input.size(), have + step)) {
      dropped += resumed.discard(input.substr(dropped, have - dropped), done, failure);
      if (failure.status == Resp3Frame::Status::kError || have == input.size()) break;
    }
    if (done && (whole.status != Resp3Frame::Status::kFrame || dropped != whole.length)) __builtin_trap();
    return 0;
  }
  if (found.status != Resp3Frame::Status::kFrame) return 0;
  if (found.length == 0 || found.length > input.size()) __builtin_trap();
  std::string longer(input.substr(0, found.length));
  longer += "+X\r\n";
  Resp3Frame again = scan_resp3_frame(longer, limits);
  if (again.status != Resp3Frame::Status::kFrame || again.length != found.length) __builtin_trap();
  for (size_t cut = 0; cut < found.length; cut += 1 + found.length / 16)
    if (scan_resp3_frame(input.substr(0, cut), limits).status == Resp3Frame::Status::kFrame) __builtin_trap();
  return 0;
}
