// Response -> RESP2/RESP3 bytes for the server side, including the replies the codec builds for
// connection commands (HELLO's map, the protocol switch).
#pragma once

#include <string>
#include <string_view>

#include "core/message.h"

namespace rpcgate::codec::resp {

// Control replies. The server codec answers connection commands itself (DecodeStatus::kAnswered)
// but writes no bytes during decode; the gateway encodes every answer through encode(). A reply
// that needs a RESP-only shape is marked by one of these `kind` values; the JSON value in
// `result` stays an ordinary JSON value:
//   kKindMap     result is a flat array [k1, v1, k2, v2, ...], sent as a RESP3 map (`%`) or, in
//                RESP2, as that flat array (what Redis does for HELLO and COMMAND DOCS);
//   kKindHello2  a HELLO reply: as kKindMap, in RESP2;
//   kKindHello3  a HELLO reply: as kKindMap, in RESP3.
// The server codec sets the protocol before each encode from the HELLOs it has decoded, and the
// gateway encodes an answer made on the spot as soon as it is made, so replies to requests
// pipelined before a HELLO go out in the protocol they were asked in, as with Redis. Only
// replies this codec produced reach its encoder with these kinds: handler or upstream kinds
// never start with "resp.".
inline constexpr std::string_view kKindMap = "resp.map";
inline constexpr std::string_view kKindHello2 = "resp.hello2";
inline constexpr std::string_view kKindHello3 = "resp.hello3";
// An error written as its message alone, which carries its own first word ("ERR Protocol error:
// invalid bulk length"), as Redis writes it.
inline constexpr std::string_view kKindRawError = "resp.raw-error";
// A whole reply already written in the protocol of the moment (`payload`): the nested maps of
// CLUSTER SHARDS, which no JSON value maps to in both protocols.
inline constexpr std::string_view kKindRawReply = "resp.raw-reply";

class RespEncoder {
 public:
  int protocol() const { return protocol_; }
  void set_protocol(int protocol) { protocol_ = protocol; }

  // Appends one whole reply. Precedence: error, then status, then result (or, when the result is
  // null and a payload is present, the payload as a bulk string).
  void encode_response(const Response& response, std::string& out);

  // One JSON value in the current protocol (RESP2 mapping in docs/protocols.md; RESP3 adds `_`, `#`,
  // `,` and `%`).
  void encode_value(const Json& value, std::string& out) const;

 private:
  void encode_flat_map(const Json& pairs, std::string& out) const;

  int protocol_ = 2;
};

}  // namespace rpcgate::codec::resp
