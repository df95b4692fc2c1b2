// The thrift fuzz targets' checks, one target per protocol: scan_message must not crash or trip
// a sanitizer; a message it finds lies within the input, is found again at the same length with
// more bytes behind it and when handed alone, and every proper prefix of it needs more bytes; an
// error stays the same error when more bytes follow; a rewritten sequence id is read back; an
// exception encoded with the input's name and text is found whole.
//
// Input layout: [options byte][stream]. Options bit 0: framed (else buffered); bits 1-3: the
// limits' nesting depth; bit 4: small limits (so that the size checks are reached).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/thrift/thrift_message.h"
#include "tests/support/fuzz_codec.h"

namespace rpcgate::test::fuzz {

inline std::string thrift_seed_from_hex(uint8_t options, std::string_view hex) {
  std::string bytes(1, static_cast<char>(options));
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    bytes.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return bytes;
}

// Seeds: a call Python's protocol wrote (every value type, nested), buffered and framed, and an
// exception rpcgate writes.
inline void write_thrift_seeds_if_asked(codec::thrift::Protocol protocol, std::string_view call_hex) {
  using namespace codec::thrift;
  std::string framed_call = thrift_seed_from_hex(0, call_hex).substr(1);
  const auto size = static_cast<uint32_t>(framed_call.size());
  framed_call.insert(0, std::string{static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                                    static_cast<char>(size >> 8), static_cast<char>(size)});
  const std::string exception =
      encode_app_exception({Transport::kBuffered, protocol}, "Pi:calc", 9, AppError::kUnknownMethod, "no calc");
  write_seeds_if_asked({{"buffered_call", thrift_seed_from_hex(0x0e, call_hex)},
                        {"framed_call", std::string(1, '\x0f') + framed_call},
                        {"buffered_exception", std::string(1, '\x0e') + exception}});
}

inline void check_thrift_input(codec::thrift::Protocol protocol, const uint8_t* data, size_t size) {
  using namespace codec::thrift;
  if (size == 0) return;
  const uint8_t options = data[0];
  const Format format{(options & 1) != 0 ? Transport::kFramed : Transport::kBuffered, protocol};
  codec::Limits limits;
  limits.max_depth = 1 + ((options >> 1) & 7);
  if ((options & 0x10) != 0) {
    limits.max_frame_bytes = 200;
    limits.max_elements = 8;
    limits.max_inline_bytes = 8;
  }
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Scan found = scan_message(input, format, limits);
  const std::string longer = std::string(input) + std::string(8, '\0');
  const Scan again = scan_message(longer, format, limits);
  if (found.status != Scan::Status::kNeedMore &&
      (again.status != found.status || again.length != found.length || again.code != found.code))
    __builtin_trap();
  if (found.status == Scan::Status::kMessage) {
    if (found.length > input.size() || found.header.seqid_at + found.header.seqid_bytes > found.length)
      __builtin_trap();
    std::string message(input.substr(0, found.length));
    if (scan_message(message, format, limits).length != found.length) __builtin_trap();
    for (size_t cut = 0; cut < message.size() && cut < 512; ++cut)
      if (scan_message(std::string_view(message).substr(0, cut), format, limits).status != Scan::Status::kNeedMore)
        __builtin_trap();
    MessageHeader header = found.header;
    const int32_t seqid = static_cast<int32_t>(found.length * 2654435761u);
    rewrite_seqid(message, format, header, seqid);
    const Scan rewritten = scan_message(message, format, limits);
    // A compact seqid may grow by a few bytes, past a small frame limit; otherwise it must read back.
    if (rewritten.status == Scan::Status::kMessage &&
        (rewritten.length != message.size() || rewritten.header.seqid != seqid))
      __builtin_trap();
    if (rewritten.status == Scan::Status::kNeedMore) __builtin_trap();
  }
  // An exception made of the input's bytes is found whole, its name read back.
  const std::string_view name = input.substr(0, std::min<size_t>(input.size(), limits.max_inline_bytes));
  const std::string_view text = input.substr(name.size(), std::min<size_t>(input.size() - name.size(), 64));
  const std::string exception = encode_app_exception(format, name, 1, AppError::kInternalError, text);
  const Scan encoded = scan_message(exception, format, codec::Limits{});
  if (encoded.status != Scan::Status::kMessage || encoded.length != exception.size() || encoded.header.name != name)
    __builtin_trap();
}

}  // namespace rpcgate::test::fuzz
