// Reads Thrift values off bytes that may stop short, and skips whole values (binary and compact
// protocols) with every announced size checked first. Internal to the thrift codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codecs/codec.h"
#include "codecs/thrift/thrift_message.h"

namespace rpcgate::codec::thrift {

class Reader {
 public:
  // `input` holds the message from its first byte. `framed`: the message must end within
  // input (its frame), and running past it is malformed; otherwise (buffered) running past the
  // input needs more bytes, up to `max_bytes`, past which the message is too large.
  Reader(std::string_view input, bool framed, size_t max_bytes, const Limits& limits)
      : in_(input), framed_(framed), max_bytes_(max_bytes), limits_(limits) {}

  bool ok() const { return !short_ && code_ == ErrorCode::kNone; }
  bool short_of_bytes() const { return short_; }
  ErrorCode code() const { return code_; }
  AppError app_error() const { return app_error_; }
  const std::string& message() const { return message_; }
  size_t pos() const { return pos_; }

  // Each returns false (and reads nothing more) once short of bytes or failed.
  bool bytes(size_t count, std::string_view& out);
  bool u8(uint8_t& out);
  bool be32(uint32_t& out);
  bool varint(uint64_t& out, int max_bytes);
  // A count of elements (or bytes) at least one byte each: checked against the limits and
  // against the bytes that can still come.
  bool count_fits(int64_t count, size_t limit, const char* what);
  bool fail(ErrorCode code, std::string message, AppError app_error = AppError::kProtocolError);

  // One whole struct (up to its STOP), its fields' values skipped. `depth` counts the structs and
  // containers it is nested in, itself included.
  bool skip_binary_struct(size_t depth);
  bool skip_compact_struct(size_t depth);

 private:
  bool skip_binary(uint8_t type, size_t depth);
  bool skip_compact(uint8_t type, size_t depth);
  bool deeper(size_t depth);

  std::string_view in_;
  bool framed_;
  size_t max_bytes_;
  const Limits& limits_;
  size_t pos_ = 0;
  bool short_ = false;
  ErrorCode code_ = ErrorCode::kNone;
  AppError app_error_ = AppError::kProtocolError;
  std::string message_;
};

}  // namespace rpcgate::codec::thrift
