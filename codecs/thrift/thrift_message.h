// Thrift messages as bytes: where one message ends in a stream, what its header says, and the few
// edits a gateway makes without knowing the service's IDL (a new sequence id, a
// TApplicationException). Framed (4-byte big-endian length) and buffered (unframed) transports;
// binary (strict and lax on input, strict on output) and compact protocols.
//
// Every size is checked against the limits when its header is read, before any byte it announces
// is awaited: a frame length, a string length, a container count, the nesting. Nothing is
// allocated for what is skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "codecs/codec.h"

namespace rpcgate::codec::thrift {

enum class Transport : uint8_t { kFramed, kBuffered };
enum class Protocol : uint8_t { kBinary, kCompact };

struct Format {
  Transport transport = Transport::kFramed;
  Protocol protocol = Protocol::kBinary;
};

enum class MessageType : uint8_t { kCall = 1, kReply = 2, kException = 3, kOneway = 4 };

// TApplicationException's types, as every Thrift library numbers them.
enum class AppError : int32_t {
  kUnknown = 0,
  kUnknownMethod = 1,
  kInvalidMessageType = 2,
  kWrongMethodName = 3,
  kBadSequenceId = 4,
  kMissingResult = 5,
  kInternalError = 6,
  kProtocolError = 7,
  kInvalidTransform = 8,
  kInvalidProtocol = 9,
  kUnsupportedClientType = 10,
};

struct MessageHeader {
  std::string name;  // as on the wire: "Service:method" when multiplexed
  MessageType type = MessageType::kCall;
  int32_t seqid = 0;
  bool strict = true;      // binary: the versioned header (lax: the old one, without a version)
  size_t seqid_at = 0;     // where the sequence id's bytes are, from the message's first byte
  size_t seqid_bytes = 0;  // 4 in binary; the varint's length in compact
};

// A multiplexed name's service ("" when not multiplexed) and method.
std::string_view service_of(std::string_view name);
std::string_view method_of(std::string_view name);

struct Scan {
  enum class Status : uint8_t { kNeedMore, kMessage, kError };
  Status status = Status::kNeedMore;
  size_t length = 0;  // kMessage: the whole message's bytes, the frame's length prefix included
  MessageHeader header;
  // kError: kTooLarge (over a limit) or kBadRequest (malformed), the TApplicationException type a
  // Thrift server would answer with, and why.
  ErrorCode code = ErrorCode::kNone;
  AppError app_error = AppError::kProtocolError;
  std::string message;
};

// Finds the message that starts at input[0]. Stateless: a caller with a partial message calls
// again with it and the bytes that followed. A framed message is looked into only once its whole
// frame is in; a buffered one is scanned again from its start on each call, which its size limit
// (max_frame_bytes) bounds. Limits used: max_frame_bytes (a frame, a buffered message, a string),
// max_elements (a container's count), max_depth (structs and containers nested), max_inline_bytes
// (the method name).
Scan scan_message(std::string_view input, const Format& format, const Limits& limits);

// Replaces the sequence id of `message` (one whole message as scan_message found it, `header`
// its header), in place; in compact the varint may change length, and the frame's length with it.
// `header` is updated to the new bytes.
void rewrite_seqid(std::string& message, const Format& format, MessageHeader& header, int32_t seqid);

// A whole EXCEPTION message carrying a TApplicationException {1: string message, 2: i32 type}.
std::string encode_app_exception(const Format& format, std::string_view name, int32_t seqid, AppError type,
                                 std::string_view message);

}  // namespace rpcgate::codec::thrift
