// libFuzzer target for scan_resp3_frame (RESP3 replies forwarded to RESP3 clients): it must not
// crash or trip a sanitizer; a frame it finds lies within the input and is found again, at the
// same length, when more bytes follow; every proper prefix of a found frame needs more bytes.
//
// Input layout: [limits selector byte][stream].
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codecs/resp/resp3_frame.h"

using rpcgate::codec::Limits;
using rpcgate::codec::resp::Resp3Frame;
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
