#include "codecs/thrift/thrift_message.h"

#include <algorithm>

#include "codecs/thrift/thrift_reader.h"

namespace rpcgate::codec::thrift {
namespace {

constexpr uint32_t kBinaryVersion = 0x80010000;
constexpr uint32_t kBinaryVersionMask = 0xffff0000;
constexpr uint8_t kCompactId = 0x82;
constexpr uint8_t kCompactVersion = 1;
constexpr size_t kFrameHeader = 4;

bool valid_type(uint32_t type) { return type >= 1 && type <= 4; }

bool read_name(Reader& reader, int64_t length, const Limits& limits, std::string& name) {
  std::string_view bytes;
  if (!reader.count_fits(length, limits.max_inline_bytes, "method name length") ||
      !reader.bytes(static_cast<size_t>(length), bytes))
    return false;
  name.assign(bytes);
  return true;
}

bool read_binary_header(Reader& reader, const Limits& limits, MessageHeader& header) {
  uint32_t first = 0;
  if (!reader.be32(first)) return false;
  uint32_t type = 0;
  if ((first & 0x80000000) != 0) {
    if ((first & kBinaryVersionMask) != kBinaryVersion)
      return reader.fail(ErrorCode::kBadRequest, "bad binary protocol version", AppError::kInvalidProtocol);
    type = first & 0xff;
    uint32_t length = 0;
    if (!reader.be32(length) || !read_name(reader, static_cast<int32_t>(length), limits, header.name)) return false;
  } else {  // lax: the old header, the name's length first and no version
    header.strict = false;
    uint8_t byte = 0;
    if (!read_name(reader, first, limits, header.name) || !reader.u8(byte)) return false;
    type = byte;
  }
  if (!valid_type(type))
    return reader.fail(ErrorCode::kBadRequest, "invalid message type " + std::to_string(type),
                       AppError::kInvalidMessageType);
  header.type = static_cast<MessageType>(type);
  header.seqid_at = reader.pos();
  header.seqid_bytes = 4;
  uint32_t seqid = 0;
  if (!reader.be32(seqid)) return false;
  header.seqid = static_cast<int32_t>(seqid);
  return true;
}

bool read_compact_header(Reader& reader, const Limits& limits, MessageHeader& header) {
  uint8_t id = 0, version_type = 0;
  if (!reader.u8(id)) return false;
  if (id != kCompactId)
    return reader.fail(ErrorCode::kBadRequest, "bad compact protocol id", AppError::kInvalidProtocol);
  if (!reader.u8(version_type)) return false;
  if ((version_type & 0x1f) != kCompactVersion)
    return reader.fail(ErrorCode::kBadRequest, "bad compact protocol version", AppError::kInvalidProtocol);
  const uint32_t type = version_type >> 5;
  if (!valid_type(type))
    return reader.fail(ErrorCode::kBadRequest, "invalid message type " + std::to_string(type),
                       AppError::kInvalidMessageType);
  header.type = static_cast<MessageType>(type);
  header.seqid_at = reader.pos();
  uint64_t seqid = 0, length = 0;
  if (!reader.varint(seqid, 5)) return false;
  header.seqid_bytes = reader.pos() - header.seqid_at;
  header.seqid = static_cast<int32_t>(static_cast<uint32_t>(seqid));
  return reader.varint(length, 5) && read_name(reader, static_cast<int64_t>(length), limits, header.name);
}

Scan from_reader(const Reader& reader) {
  Scan scan;
  if (reader.short_of_bytes()) return scan;
  scan.status = Scan::Status::kError;
  scan.code = reader.code();
  scan.app_error = reader.app_error();
  scan.message = reader.message();
  return scan;
}

void put_be32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

uint32_t zigzag32(int32_t value) { return (static_cast<uint32_t>(value) << 1) ^ static_cast<uint32_t>(value >> 31); }

void frame(std::string& message) {
  std::string prefix;
  put_be32(prefix, static_cast<uint32_t>(message.size()));
  message.insert(0, prefix);
}

}  // namespace

std::string_view service_of(std::string_view name) {
  const size_t colon = name.find(':');
  return colon == std::string_view::npos ? std::string_view() : name.substr(0, colon);
}

std::string_view method_of(std::string_view name) {
  const size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

Scan scan_message(std::string_view input, const Format& format, const Limits& limits) {
  size_t offset = 0;
  std::string_view message = input;
  const bool framed = format.transport == Transport::kFramed;
  if (framed) {
    Reader prefix(input, false, kFrameHeader, limits);
    uint32_t length = 0;
    if (!prefix.be32(length)) return {};
    if (length > limits.max_frame_bytes) {
      Scan scan;
      scan.status = Scan::Status::kError;
      scan.code = ErrorCode::kTooLarge;
      scan.message =
          "frame of " + std::to_string(length) + " bytes over the limit of " + std::to_string(limits.max_frame_bytes);
      return scan;
    }
    if (input.size() - kFrameHeader < length) return {};
    offset = kFrameHeader;
    message = input.substr(kFrameHeader, length);
  }
  Reader reader(message, framed, limits.max_frame_bytes, limits);
  Scan scan;
  const bool binary = format.protocol == Protocol::kBinary;
  if (!(binary ? read_binary_header(reader, limits, scan.header) : read_compact_header(reader, limits, scan.header)) ||
      !(binary ? reader.skip_binary_struct(1) : reader.skip_compact_struct(1)))
    return from_reader(reader);
  if (framed && reader.pos() != message.size()) {
    reader.fail(ErrorCode::kBadRequest, "frame holds bytes after its message");
    return from_reader(reader);
  }
  scan.status = Scan::Status::kMessage;
  scan.length = offset + reader.pos();
  scan.header.seqid_at += offset;
  return scan;
}

void rewrite_seqid(std::string& message, const Format& format, MessageHeader& header, int32_t seqid) {
  std::string bytes;
  if (format.protocol == Protocol::kBinary)
    put_be32(bytes, static_cast<uint32_t>(seqid));
  else
    put_varint(bytes, static_cast<uint32_t>(seqid));
  message.replace(header.seqid_at, header.seqid_bytes, bytes);
  if (format.transport == Transport::kFramed && bytes.size() != header.seqid_bytes) {
    std::string prefix;
    put_be32(prefix, static_cast<uint32_t>(message.size() - kFrameHeader));
    message.replace(0, kFrameHeader, prefix);
  }
  header.seqid = seqid;
  header.seqid_bytes = bytes.size();
}

std::string encode_app_exception(const Format& format, std::string_view name, int32_t seqid, AppError type,
                                 std::string_view message) {
  std::string out;
  const auto exception = static_cast<uint32_t>(MessageType::kException);
  if (format.protocol == Protocol::kBinary) {
    put_be32(out, kBinaryVersion | exception);
    put_be32(out, static_cast<uint32_t>(name.size()));
    out.append(name);
    put_be32(out, static_cast<uint32_t>(seqid));
    out.append("\x0b\x00\x01", 3);  // field 1, string: the message
    put_be32(out, static_cast<uint32_t>(message.size()));
    out.append(message);
    out.append("\x08\x00\x02", 3);  // field 2, i32: the type
    put_be32(out, static_cast<uint32_t>(type));
    out.push_back('\0');
  } else {
    out.push_back(static_cast<char>(kCompactId));
    out.push_back(static_cast<char>(kCompactVersion | (exception << 5)));
    put_varint(out, static_cast<uint32_t>(seqid));
    put_varint(out, name.size());
    out.append(name);
    out.push_back(0x18);  // field delta 1, binary: the message
    put_varint(out, message.size());
    out.append(message);
    out.push_back(0x15);  // field delta 1, i32: the type
    put_varint(out, zigzag32(static_cast<int32_t>(type)));
    out.push_back('\0');
  }
  if (format.transport == Transport::kFramed) frame(out);
  return out;
}

}  // namespace rpcgate::codec::thrift
