// Wire frames built by hand, the way a peer would write them, for unit tests and fuzz targets:
// length-prefixed bodies (json, protobuf) and RESP commands, plus the JSON binary a test expects.
// Header-only, no test framework.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/framing.h"
#include "core/message.h"

namespace rpcgate::test {

// `body` after a length prefix in `order`.
inline std::string prefixed(std::string_view body, codec::ByteOrder order) {
  std::string out(codec::kPrefixBytes, '\0');
  codec::write_length(out.data(), static_cast<uint32_t>(body.size()), order);
  out.append(body);
  return out;
}

// The body of `frame`, if its prefix (in `order`) announces exactly the rest; else nullopt.
inline std::optional<std::string_view> prefixed_body(std::string_view frame, codec::ByteOrder order) {
  if (frame.size() < codec::kPrefixBytes) return std::nullopt;
  if (codec::read_length(frame.data(), order) != frame.size() - codec::kPrefixBytes) return std::nullopt;
  return frame.substr(codec::kPrefixBytes);
}

// A RESP array of bulk strings, as clients send.
inline std::string resp_command(std::initializer_list<std::string_view> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (auto arg : args) out += "$" + std::to_string(arg.size()) + "\r\n" + std::string(arg) + "\r\n";
  return out;
}

// Bytes as a JSON binary value.
inline Json binary(std::string_view bytes) {
  return Json::binary(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
}

}  // namespace rpcgate::test
