#include "codecs/thrift/thrift_reader.h"

#include <utility>

namespace rpcgate::codec::thrift {
namespace {

// Binary protocol types (TType).
constexpr uint8_t kStop = 0, kBool = 2, kByte = 3, kDouble = 4, kI16 = 6, kI32 = 8, kI64 = 10, kString = 11,
                  kStruct = 12, kMap = 13, kSet = 14, kList = 15, kUuid = 16;
// Compact protocol types.
constexpr uint8_t kCTrue = 1, kCFalse = 2, kCByte = 3, kCI16 = 4, kCI32 = 5, kCI64 = 6, kCDouble = 7, kCBinary = 8,
                  kCList = 9, kCSet = 10, kCMap = 11, kCStruct = 12, kCUuid = 13;

}  // namespace

bool Reader::fail(ErrorCode code, std::string message, AppError app_error) {
  if (code_ == ErrorCode::kNone) {
    code_ = code;
    message_ = std::move(message);
    app_error_ = app_error;
  }
  return false;
}

bool Reader::bytes(size_t count, std::string_view& out) {
  if (!ok()) return false;
  // Unframed, the size limit holds whether or not the bytes are in already, so that a message is
  // refused alike however it arrives.
  if (!framed_ && count > max_bytes_ - std::min(pos_, max_bytes_))
    return fail(ErrorCode::kTooLarge, "message larger than " + std::to_string(max_bytes_) + " bytes");
  if (count > in_.size() - pos_) {
    if (framed_) return fail(ErrorCode::kBadRequest, "message runs past the end of its frame");
    short_ = true;
    return false;
  }
  out = in_.substr(pos_, count);
  pos_ += count;
  return true;
}

bool Reader::u8(uint8_t& out) {
  std::string_view b;
  if (!bytes(1, b)) return false;
  out = static_cast<uint8_t>(b[0]);
  return true;
}

bool Reader::be32(uint32_t& out) {
  std::string_view b;
  if (!bytes(4, b)) return false;
  out = 0;
  for (char c : b) out = (out << 8) | static_cast<uint8_t>(c);
  return true;
}

bool Reader::varint(uint64_t& out, int max_bytes) {
  out = 0;
  for (int i = 0; i < max_bytes; ++i) {
    uint8_t byte = 0;
    if (!u8(byte)) return false;
    out |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return true;
  }
  return fail(ErrorCode::kBadRequest, "varint longer than " + std::to_string(max_bytes) + " bytes");
}

bool Reader::count_fits(int64_t count, size_t limit, const char* what) {
  if (!ok()) return false;
  if (count < 0) return fail(ErrorCode::kBadRequest, std::string("negative ") + what);
  const auto wanted = static_cast<uint64_t>(count);
  if (wanted > limit)
    return fail(ErrorCode::kTooLarge,
                std::string(what) + " " + std::to_string(wanted) + " over the limit of " + std::to_string(limit));
  // Every element takes a byte at least, so a count the message cannot hold is known at once.
  const size_t room = framed_ ? in_.size() - pos_ : max_bytes_ - std::min(pos_, max_bytes_);
  if (wanted > room)
    return fail(framed_ ? ErrorCode::kBadRequest : ErrorCode::kTooLarge,
                std::string(what) + " " + std::to_string(wanted) + " larger than the message can hold");
  return true;
}

bool Reader::deeper(size_t depth) {
  if (depth > limits_.max_depth)
    return fail(ErrorCode::kTooLarge, "nested deeper than " + std::to_string(limits_.max_depth));
  return true;
}

bool Reader::skip_binary_struct(size_t depth) {
  if (!deeper(depth)) return false;
  for (;;) {
    uint8_t type = 0;
    std::string_view id;
    if (!u8(type)) return false;
    if (type == kStop) return true;
    if (!bytes(2, id) || !skip_binary(type, depth)) return false;
  }
}

bool Reader::skip_binary(uint8_t type, size_t depth) {
  std::string_view skipped;
  uint32_t size = 0;
  switch (type) {
    case kBool:
    case kByte:
      return bytes(1, skipped);
    case kI16:
      return bytes(2, skipped);
    case kI32:
      return bytes(4, skipped);
    case kDouble:
    case kI64:
      return bytes(8, skipped);
    case kUuid:
      return bytes(16, skipped);
    case kString:
      return be32(size) && count_fits(static_cast<int32_t>(size), limits_.max_frame_bytes, "string length") &&
             bytes(size, skipped);
    case kStruct:
      return skip_binary_struct(depth + 1);
    case kMap: {
      uint8_t key = 0, value = 0;
      if (!u8(key) || !u8(value) || !be32(size)) return false;
      if (!count_fits(static_cast<int32_t>(size), limits_.max_elements, "map size") || !deeper(depth + 1)) return false;
      for (uint32_t i = 0; i < size; ++i)
        if (!skip_binary(key, depth + 1) || !skip_binary(value, depth + 1)) return false;
      return true;
    }
    case kSet:
    case kList: {
      uint8_t element = 0;
      if (!u8(element) || !be32(size)) return false;
      if (!count_fits(static_cast<int32_t>(size), limits_.max_elements, "list size") || !deeper(depth + 1))
        return false;
      for (uint32_t i = 0; i < size; ++i)
        if (!skip_binary(element, depth + 1)) return false;
      return true;
    }
    default:
      return fail(ErrorCode::kBadRequest, "unknown binary type " + std::to_string(type));
  }
}

bool Reader::skip_compact_struct(size_t depth) {
  if (!deeper(depth)) return false;
  for (;;) {
    uint8_t header = 0;
    if (!u8(header)) return false;
    if (header == 0) return true;  // STOP
    uint64_t id = 0;
    // A zero delta means the field id follows as a zigzag varint.
    if ((header >> 4) == 0 && !varint(id, 3)) return false;
    const uint8_t type = header & 0x0f;
    if (type == kCTrue || type == kCFalse) continue;  // a bool field's value is its type
    if (!skip_compact(type, depth)) return false;
  }
}

bool Reader::skip_compact(uint8_t type, size_t depth) {
  std::string_view skipped;
  uint64_t value = 0;
  switch (type) {
    case kCTrue:
    case kCFalse:  // in a container, a bool is a byte
    case kCByte:
      return bytes(1, skipped);
    case kCI16:
      return varint(value, 3);
    case kCI32:
      return varint(value, 5);
    case kCI64:
      return varint(value, 10);
    case kCDouble:
      return bytes(8, skipped);
    case kCUuid:
      return bytes(16, skipped);
    case kCBinary:
      return varint(value, 5) && count_fits(static_cast<int64_t>(value), limits_.max_frame_bytes, "string length") &&
             bytes(value, skipped);
    case kCStruct:
      return skip_compact_struct(depth + 1);
    case kCMap: {
      if (!varint(value, 5)) return false;
      if (value == 0) return true;  // an empty map has no types byte
      uint8_t types = 0;
      if (!count_fits(static_cast<int64_t>(value), limits_.max_elements, "map size") || !deeper(depth + 1) ||
          !u8(types))
        return false;
      for (uint64_t i = 0; i < value; ++i)
        if (!skip_compact(types >> 4, depth + 1) || !skip_compact(types & 0x0f, depth + 1)) return false;
      return true;
    }
    case kCSet:
    case kCList: {
      uint8_t header = 0;
      if (!u8(header)) return false;
      value = header >> 4;
      if (value == 15 && !varint(value, 5)) return false;  // 15: the size follows as a varint
      if (!count_fits(static_cast<int64_t>(value), limits_.max_elements, "list size") || !deeper(depth + 1))
        return false;
      for (uint64_t i = 0; i < value; ++i)
        if (!skip_compact(header & 0x0f, depth + 1)) return false;
      return true;
    }
    default:
      return fail(ErrorCode::kBadRequest, "unknown compact type " + std::to_string(type));
  }
}

}  // namespace rpcgate::codec::thrift
