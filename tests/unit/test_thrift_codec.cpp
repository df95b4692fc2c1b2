// The thrift codec's message scanner held against the real Python Thrift library (python3-thrift,
// run at test time by tests/support/thrift_peer.py): messages Python wrote with each transport and
// protocol are found whole, fed at once, a byte at a time and in chunks; the exceptions rpcgate
// writes are read back by Python; sequence ids rewritten; malformed and oversized input refused
// as soon as a header shows it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "codecs/thrift/thrift_message.h"

using rpcgate::ErrorCode;
using rpcgate::codec::Limits;
using namespace rpcgate::codec::thrift;

namespace {

struct PeerMessage {
  Format format;
  bool strict = true;
  std::string name;
  int type = 0;
  int32_t seqid = 0;
  std::string bytes;
};

std::string run(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char chunk[4096];
  size_t got = 0;
  while ((got = fread(chunk, 1, sizeof chunk, pipe)) > 0) out.append(chunk, got);
  REQUIRE(pclose(pipe) == 0);
  return out;
}

std::string from_hex(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return bytes;
}

std::string to_hex(const std::string& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex.push_back(digits[c >> 4]);
    hex.push_back(digits[c & 15]);
  }
  return hex;
}

Format format_of(const std::string& transport, const std::string& protocol) {
  return {transport == "framed" ? Transport::kFramed : Transport::kBuffered,
          protocol == "compact" ? Protocol::kCompact : Protocol::kBinary};
}

const std::vector<PeerMessage>& peer_messages() {
  static const std::vector<PeerMessage> messages = [] {
    std::vector<PeerMessage> all;
    std::istringstream lines(run(std::string(RPCGATE_PYTHON) + " " + RPCGATE_THRIFT_PEER + " gen"));
    std::string transport, protocol, hex;
    PeerMessage m;
    int strict = 0;
    while (lines >> transport >> protocol >> strict >> m.name >> m.type >> m.seqid >> hex) {
      m.format = format_of(transport, protocol);
      m.strict = strict != 0;
      m.bytes = from_hex(hex);
      all.push_back(m);
    }
    return all;
  }();
  return messages;
}

// Python reads `bytes` as a reply carrying a TApplicationException; its report.
std::string python_reads(const std::string& transport, const std::string& protocol, const std::string& bytes) {
  char path[] = "/tmp/thrift_peer_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const std::string hex = to_hex(bytes);
  REQUIRE(write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()));
  close(fd);
  std::string out = run(std::string(RPCGATE_PYTHON) + " " + RPCGATE_THRIFT_PEER + " decode " + transport + " " +
                        protocol + " < " + path);
  unlink(path);
  return out;
}

void check_found(const Scan& scan, const PeerMessage& m) {
  REQUIRE(scan.status == Scan::Status::kMessage);
  CHECK(scan.length == m.bytes.size());
  CHECK(scan.header.name == m.name);
  CHECK(static_cast<int>(scan.header.type) == m.type);
  CHECK(scan.header.seqid == m.seqid);
  CHECK(scan.header.strict == m.strict);
}

Scan scan_error(const std::string& bytes, const Format& format, const Limits& limits = {}) {
  Scan scan = scan_message(bytes, format, limits);
  CAPTURE(to_hex(bytes));
  REQUIRE(scan.status == Scan::Status::kError);
  return scan;
}

constexpr Format kFramedBinary{Transport::kFramed, Protocol::kBinary};
constexpr Format kBufferedBinary{Transport::kBuffered, Protocol::kBinary};
constexpr Format kBufferedCompact{Transport::kBuffered, Protocol::kCompact};

}  // namespace

TEST_CASE("messages Python wrote are found whole, with their header") {
  REQUIRE(peer_messages().size() == 30);
  for (const PeerMessage& m : peer_messages()) {
    CAPTURE(m.name);
    CAPTURE(to_hex(m.bytes));
    // With the next message behind it, as on a pipelined connection.
    const std::string stream = m.bytes + m.bytes;
    check_found(scan_message(stream, m.format, {}), m);
    Scan next = scan_message(std::string_view(stream).substr(m.bytes.size()), m.format, {});
    check_found(next, m);
    CHECK(method_of(next.header.name) == "calc");
    CHECK(service_of(next.header.name) == (m.name.find(':') != std::string::npos ? "PiService" : ""));
  }
}

TEST_CASE("every proper prefix needs more, fed a byte at a time or in chunks") {
  for (const PeerMessage& m : peer_messages()) {
    CAPTURE(to_hex(m.bytes));
    for (size_t cut = 0; cut < m.bytes.size(); ++cut)
      REQUIRE(scan_message(std::string_view(m.bytes).substr(0, cut), m.format, {}).status == Scan::Status::kNeedMore);
    for (size_t chunk : {7u, 64u, 1000u}) {
      std::string fed;
      Scan scan;
      for (size_t at = 0; scan.status == Scan::Status::kNeedMore && at < m.bytes.size(); at += chunk) {
        fed += m.bytes.substr(at, chunk);
        scan = scan_message(fed, m.format, {});
      }
      check_found(scan, m);
    }
  }
}

TEST_CASE("a rewritten sequence id is what Python reads, the rest unchanged") {
  for (const PeerMessage& m : peer_messages()) {
    if (m.type != 3) continue;  // the exceptions: Python's decode reads those
    const std::string transport = m.format.transport == Transport::kFramed ? "framed" : "buffered";
    const std::string protocol = m.format.protocol == Protocol::kCompact ? "compact" : "binary";
    for (int32_t seqid : {0, 5, 1 << 20, -2, 2147483647}) {
      CAPTURE(seqid);
      std::string bytes = m.bytes;
      Scan scan = scan_message(bytes, m.format, {});
      REQUIRE(scan.status == Scan::Status::kMessage);
      rewrite_seqid(bytes, m.format, scan.header, seqid);
      Scan again = scan_message(bytes, m.format, {});
      REQUIRE(again.status == Scan::Status::kMessage);
      CHECK(again.length == bytes.size());
      CHECK(again.header.seqid == seqid);
      CHECK(again.header.seqid_bytes == scan.header.seqid_bytes);
      if (!m.strict) continue;  // Python's reader here is strict
      CHECK(python_reads(transport, protocol, bytes) ==
            m.name + " 3 " + std::to_string(seqid) + " 1 no such method trailing=0\n");
    }
  }
}

TEST_CASE("TApplicationException as Python reads it, in every transport and protocol") {
  for (const char* transport : {"framed", "buffered"})
    for (const char* protocol : {"binary", "compact"}) {
      CAPTURE(transport);
      CAPTURE(protocol);
      const Format format = format_of(transport, protocol);
      const std::string bytes =
          encode_app_exception(format, "Pi:calc", -7, AppError::kProtocolError, "frame larger than 16 bytes");
      Scan scan = scan_message(bytes, format, {});
      REQUIRE(scan.status == Scan::Status::kMessage);
      CHECK(scan.length == bytes.size());
      CHECK(scan.header.type == MessageType::kException);
      CHECK(python_reads(transport, protocol, bytes) == "Pi:calc 3 -7 7 frame larger than 16 bytes trailing=0\n");
      CHECK(python_reads(transport, protocol, encode_app_exception(format, "x", 1, AppError::kUnknownMethod, "")) ==
            "x 3 1 1  trailing=0\n");
    }
}

TEST_CASE("sizes over the limits are refused when their header is read") {
  Limits limits;
  limits.max_frame_bytes = 100;
  limits.max_elements = 10;
  limits.max_depth = 3;
  limits.max_inline_bytes = 16;
  // A frame length over the limit: refused on its four bytes alone.
  Scan frame = scan_error(std::string("\x00\x00\x00\x65", 4), kFramedBinary, limits);
  CHECK(frame.code == ErrorCode::kTooLarge);
  CHECK(scan_error(std::string("\xff\xff\xff\xff", 4), kFramedBinary, limits).code == ErrorCode::kTooLarge);
  // A method name over max_inline_bytes, announced only.
  const std::string strict_head("\x80\x01\x00\x01", 4);
  CHECK(scan_error(strict_head + std::string("\x00\x00\x00\x11", 4), kBufferedBinary, limits).code ==
        ErrorCode::kTooLarge);
  const std::string call = strict_head + std::string(
                                             "\x00\x00\x00\x01"
                                             "c"
                                             "\x00\x00\x00\x01",
                                             9);
  // A string field announcing more than a message may hold.
  CHECK(scan_error(call + std::string("\x0b\x00\x01\x00\x00\x00\x65", 7), kBufferedBinary, limits).code ==
        ErrorCode::kTooLarge);
  // A list of 11 elements when 10 are allowed; one of 10 is awaited.
  CHECK(scan_error(call + std::string("\x0f\x00\x01\x03\x00\x00\x00\x0b", 8), kBufferedBinary, limits).code ==
        ErrorCode::kTooLarge);
  CHECK(scan_message(call + std::string("\x0f\x00\x01\x03\x00\x00\x00\x0a", 8), kBufferedBinary, limits).status ==
        Scan::Status::kNeedMore);
  // A map of a million entries, in compact: refused on its size's varint.
  const std::string compact_call(
      "\x82\x21\x01\x01"
      "c",
      5);
  CHECK(scan_error(compact_call + std::string("\x1b\xc0\x84\x3d", 4), kBufferedCompact, limits).code ==
        ErrorCode::kTooLarge);
  // Structs nested deeper than max_depth (the message's own struct is the first).
  const std::string nested = call + std::string("\x0c\x00\x01\x0c\x00\x01\x0c\x00\x01", 9);
  CHECK(scan_error(nested, kBufferedBinary, limits).code == ErrorCode::kTooLarge);
  CHECK(scan_message(call + std::string("\x0c\x00\x01\x0c\x00\x01\x00\x00\x00", 9), kBufferedBinary, limits).status ==
        Scan::Status::kMessage);
  // A buffered message that goes on past max_frame_bytes.
  std::string longer = call;
  while (longer.size() < 120) longer += std::string("\x08\x00\x01\x00\x00\x00\x00", 7);
  CHECK(scan_error(longer, kBufferedBinary, limits).code == ErrorCode::kTooLarge);
  // ... also when all of it, its end included, is in already.
  CHECK(scan_error(longer + std::string(1, '\0'), kBufferedBinary, limits).code == ErrorCode::kTooLarge);
}

TEST_CASE("malformed messages are errors with the exception type a Thrift server answers") {
  const std::string call(
      "\x80\x01\x00\x01\x00\x00\x00\x01"
      "c"
      "\x00\x00\x00\x01",
      13);
  // A bad version, an unknown message type, an unknown field type, a negative length.
  Scan version = scan_error(std::string("\x80\x02\x00\x01\x00\x00\x00\x00", 8), kBufferedBinary);
  CHECK(version.app_error == AppError::kInvalidProtocol);
  Scan type = scan_error(std::string("\x80\x01\x00\x05\x00\x00\x00\x00", 8), kBufferedBinary);
  CHECK(type.app_error == AppError::kInvalidMessageType);
  CHECK(scan_error(call + std::string("\x01\x00\x01", 3), kBufferedBinary).code == ErrorCode::kBadRequest);
  CHECK(scan_error(call + std::string("\x0b\x00\x01\xff\xff\xff\xfe", 7), kBufferedBinary).code ==
        ErrorCode::kBadRequest);
  // Framed: a message running past its frame, and a frame with bytes after its message.
  auto framed = [](const std::string& body) { return std::string{0, 0, 0, static_cast<char>(body.size())} + body; };
  CHECK(scan_error(framed(call), kFramedBinary).message == "message runs past the end of its frame");
  CHECK(scan_error(framed(call + std::string("\x00\x00", 2)), kFramedBinary).message ==
        "frame holds bytes after its message");
  // Compact: a wrong protocol id, a bad version, a varint that never ends.
  CHECK(scan_error(std::string("\x80\x21", 2), kBufferedCompact).app_error == AppError::kInvalidProtocol);
  CHECK(scan_error(std::string("\x82\x22", 2), kBufferedCompact).app_error == AppError::kInvalidProtocol);
  CHECK(scan_error(std::string("\x82\x21\xff\xff\xff\xff\xff\xff", 8), kBufferedCompact).code ==
        ErrorCode::kBadRequest);
  // A binary reader handed a compact message (and the other way round) refuses it at once.
  CHECK(scan_error(std::string("\x82\x21\x01\x01"
                               "c\x00",
                               6),
                   kBufferedBinary)
            .app_error == AppError::kInvalidProtocol);
  CHECK(scan_error(call, kBufferedCompact).app_error == AppError::kInvalidProtocol);
}
