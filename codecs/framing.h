// The 4-byte length prefix the json and protobuf wire formats share: cutting a whole frame out of
// the input (an oversized length is refused once the prefix is read) and writing one in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "codecs/codec.h"

namespace rpcgate::codec {

inline constexpr size_t kPrefixBytes = 4;
// The largest body a 4-byte prefix can announce.
inline constexpr size_t kMaxPrefixedBody = std::numeric_limits<uint32_t>::max();

inline uint32_t read_length(const char* prefix, ByteOrder order) {
  const auto* p = reinterpret_cast<const unsigned char*>(prefix);
  if (order == ByteOrder::kBig)
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
  return uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | uint32_t{p[0]};
}

inline void write_length(char* prefix, uint32_t length, ByteOrder order) {
  auto* p = reinterpret_cast<unsigned char*>(prefix);
  for (size_t i = 0; i < kPrefixBytes; ++i) {
    size_t shift = order == ByteOrder::kBig ? 8 * (kPrefixBytes - 1 - i) : 8 * i;
    p[i] = static_cast<unsigned char>(length >> shift);
  }
}

enum class FrameStatus : uint8_t { kNeedMore, kTooLarge, kWhole };

struct FrameCut {
  FrameStatus status = FrameStatus::kNeedMore;
  size_t body_length = 0;  // announced by the prefix (kTooLarge, kWhole)
  std::string_view body;   // kWhole only: a view into the input
  size_t frame_bytes() const { return kPrefixBytes + body_length; }
};

// Looks at the start of `input`. The length is judged the moment the prefix is complete, so an
// absurd announcement never makes the caller buffer its body.
inline FrameCut cut_frame(std::string_view input, ByteOrder order, size_t max_body) {
  FrameCut cut;
  if (input.size() < kPrefixBytes) return cut;
  cut.body_length = read_length(input.data(), order);
  if (cut.body_length > max_body) {
    cut.status = FrameStatus::kTooLarge;
  } else if (input.size() - kPrefixBytes >= cut.body_length) {
    cut.status = FrameStatus::kWhole;
    cut.body = input.substr(kPrefixBytes, cut.body_length);
  }
  return cut;
}

// The message of the TOO_LARGE error both codecs answer an oversized prefix with.
inline std::string too_large_message(size_t length, size_t limit) {
  return "frame of " + std::to_string(length) + " bytes exceeds the limit of " + std::to_string(limit) + " bytes";
}

// Reserves the prefix of a frame at the end of `out`; returns where the frame starts. The body is
// then appended to `out` directly and end_frame() patches the prefix, so no frame is built twice.
inline size_t begin_frame(std::string& out) {
  size_t start = out.size();
  out.append(kPrefixBytes, '\0');
  return start;
}

// False (and `out` unchanged from before begin_frame) when the body cannot be announced in 4 bytes.
inline bool end_frame(std::string& out, size_t start, ByteOrder order) {
  size_t body = out.size() - start - kPrefixBytes;
  if (body > kMaxPrefixedBody) {
    out.resize(start);
    return false;
  }
  write_length(out.data() + start, static_cast<uint32_t>(body), order);
  return true;
}

}  // namespace rpcgate::codec
