// What a codec is configured with, and how a codec declares the option keys it owns, so that
// conf/ reads, checks and shows them without naming any codec (a plug-in's options need no
// change outside its folder).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/credentials.h"
#include "core/message.h"

namespace rpcgate::codec {

// Bounds on what one peer may make us hold. Checked the moment a header announces a size, never
// after buffering it. Defaults follow docs/protocols.md.
struct Limits {
  size_t max_frame_bytes = 16u << 20;    // JSON/protobuf frame body; RESP bulk string length
  size_t max_request_bytes = 64u << 20;  // RESP: one whole command (all its bulks) not yet complete
  size_t max_elements = 1u << 20;        // RESP array elements
  size_t max_depth = 64;                 // JSON nesting, RESP array nesting, protobuf Value recursion
  size_t max_inline_bytes = 64u << 10;   // RESP inline command line
};

// What a codec builds once from its options when the config is loaded (CodecInfo::load): files they
// name, parsed (grpc's protobuf descriptors). Shared, read-only, by every connection of the section.
struct CodecState {
  virtual ~CodecState() = default;
};

enum class ByteOrder : uint8_t { kLittle, kBig };
enum class RespArgs : uint8_t { kAuto, kStrings };

// Per-listener / per-cluster codec settings. One flat struct: each codec reads the fields it owns;
// a codec with options of its own and no field here keeps them in `extra`.
struct CodecOptions {
  Limits limits;
  ByteOrder length_byte_order = ByteOrder::kLittle;  // json: the legacy services pack native (LE)
  RespArgs resp_args = RespArgs::kAuto;              // resp: how command arguments become params
  // resp client side: every upstream connection starts with AUTH [username] password.
  std::string auth_username;
  std::string auth_password;
  // resp cluster: a client's own AUTH (and HELLO's AUTH option) logs in its own upstream
  // connection, so that Redis's ACL users apply to it; RESET logs it out again.
  bool forward_auth = false;
  // Client side: the cluster reaches its upstreams over TLS (its `tls:`), which a codec may have
  // to say in its own words (gRPC's :scheme https). Set by conf/, so codecs need not know tls/.
  bool upstream_tls = false;
  // Declared options of codecs that have no field above, by key (CodecOption::apply's default).
  Json extra = Json::object();
  // Set by CodecInfo::load when the codec has one; null otherwise.
  std::shared_ptr<const CodecState> state;

  // Set by the gateway on a listener whose codec has a sidecar_probe (CodecInfo) that a route
  // sends to a cluster of the same codec: the listener stands in for that upstream (a RESP port
  // in front of a Redis), whose options these are. Null otherwise.
  const CodecOptions* upstream = nullptr;
  // Server side: the logins a client must make before anything else; null = none required.
  // Owned by the listener, which outlives its codecs.
  const Credentials* credentials = nullptr;
};

// What the effective config shows in place of a secret.
constexpr const char* kRedacted = "<redacted>";

// One option key a codec owns, read by conf/ from a listener's or a cluster's section.
struct CodecOption {
  enum class Kind : uint8_t {
    kSize,     // a byte count ("64KiB" or an integer) in [min, max]
    kInteger,  // an integer in [min, max]
    kChoice,   // one of `choices`
    kBool,
    kString,
    kStringList,  // a list of strings (grpc's descriptor files)
  };
  enum class Side : uint8_t { kBoth, kListener, kCluster };
  struct Value {
    uint64_t number = 0;             // kSize, kInteger
    bool flag = false;               // kBool
    std::string text;                // kChoice, kString
    std::vector<std::string> items;  // kStringList
  };

  std::string_view key;
  Kind kind = Kind::kString;
  Side side = Side::kBoth;
  uint64_t min = 0;
  uint64_t max = 0;
  std::span<const std::string_view> choices = {};
  // Why the key is this codec's, added to the error when another codec's section names it:
  // "applies to the resp codec only (Redis AUTH)". May be empty.
  std::string_view note = {};
  // Stores a valid value; null stores it in CodecOptions::extra under `key`.
  void (*apply)(CodecOptions& options, const Value& value) = nullptr;
  // Its value in the effective config (GET /config); null shows nothing (a limit, shown with
  // every codec's limits, or a secret shown by a function of its own). Null Json = not set.
  Json (*show)(const CodecOptions& options) = nullptr;
};

}  // namespace rpcgate::codec
