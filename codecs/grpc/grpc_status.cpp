#include "codecs/grpc/grpc_status.h"

#include <charconv>

namespace rpcgate::codec::grpc {

Status status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNone:
      return Status::kOk;
    case ErrorCode::kBadRequest:
      return Status::kInvalidArgument;
    case ErrorCode::kTooLarge:
    case ErrorCode::kOverloaded:
      return Status::kResourceExhausted;
    case ErrorCode::kUnknownMethod:
      return Status::kUnimplemented;
    case ErrorCode::kUnavailable:
    case ErrorCode::kShuttingDown:  // a client may retry elsewhere, as after UNAVAILABLE
      return Status::kUnavailable;
    case ErrorCode::kTimeout:
      return Status::kDeadlineExceeded;
    case ErrorCode::kUpstreamError:
      return Status::kUnknown;
    case ErrorCode::kInternal:
      return Status::kInternal;
    case ErrorCode::kNoAuth:
      return Status::kUnauthenticated;
  }
  return Status::kUnknown;
}

ErrorCode error_of(uint32_t status) {
  switch (static_cast<Status>(status)) {
    case Status::kOk:
      return ErrorCode::kNone;
    case Status::kInvalidArgument:
      return ErrorCode::kBadRequest;
    case Status::kDeadlineExceeded:
      return ErrorCode::kTimeout;
    case Status::kResourceExhausted:
      return ErrorCode::kOverloaded;
    case Status::kUnimplemented:
      return ErrorCode::kUnknownMethod;
    case Status::kInternal:
      return ErrorCode::kInternal;
    case Status::kUnavailable:
      return ErrorCode::kUnavailable;
    case Status::kUnauthenticated:
      return ErrorCode::kNoAuth;
    case Status::kUnknown:
    case Status::kNotFound:
      break;
  }
  return ErrorCode::kUpstreamError;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte <= 0x7E && byte != '%') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    uint8_t byte = 0;
    // Two hex digits exactly (from_chars takes no sign or prefix for an unsigned type).
    if (text[i] == '%' && i + 2 < text.size()) {
      auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, byte, 16);
      if (ec == std::errc() && end == text.data() + i + 3) {
        out += static_cast<char>(byte);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

std::optional<uint64_t> parse_timeout_ms(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;  // 1 to 8 digits, then the unit
  std::string_view digits = value.substr(0, value.size() - 1);
  uint64_t amount = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), amount);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  auto up = [](uint64_t n, uint64_t per_ms) { return (n + per_ms - 1) / per_ms; };
  switch (value.back()) {
    case 'H':
      return amount * 3'600'000;
    case 'M':
      return amount * 60'000;
    case 'S':
      return amount * 1000;
    case 'm':
      return amount;
    case 'u':
      return up(amount, 1000);
    case 'n':
      return up(amount, 1'000'000);
    default:
      return std::nullopt;
  }
}

}  // namespace rpcgate::codec::grpc
