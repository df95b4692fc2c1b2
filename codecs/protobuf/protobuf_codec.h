// The protobuf wire format (docs/protocols.md): server and client codecs behind the codec seam.
#pragma once

#include <memory>

#include "codecs/codec.h"

namespace rpcgate::codec::protobuf {

// Frames are a 4-byte big-endian length (always: CodecOptions::length_byte_order is the json
// codec's) and a serialized rpcgate.v1.Request or Response. Choices the protocol leaves open:
// - Every decoded request has an id (proto3 has no absent id: 0 when the client sent none); every
//   response carries Response::id, or 0.
// - A frame that does not parse is a bad frame: BAD_REQUEST with id 0, and the connection is
//   closed. One that parses but has no method, or holds params nested deeper than
//   Limits::max_depth, is a bad request: BAD_REQUEST with its id, and the connection goes on.
// - Value numbers that are whole and below 2^53 in magnitude become JSON integers; JSON numbers
//   become doubles. A binary params/result goes out as `payload` when there is no payload
//   already, else (and when nested) as a base64 string. A null result leaves `result` out.
//   Text that is not UTF-8 is repaired with U+FFFD, since protobuf refuses it.
// - An error response carries only id and error {code, message}.
// - Client side: `error` present means failure (an unknown or empty code becomes
//   UPSTREAM_ERROR). A frame that does not parse breaks the connection (no id to match it by);
//   a result too deep fails just its request, by id, with UPSTREAM_ERROR.
std::unique_ptr<ServerCodec> make_server_codec(const CodecOptions& options);
std::unique_ptr<ClientCodec> make_client_codec(const CodecOptions& options);

// Its entry in the codec registry: the factories and the options it owns.
extern const CodecInfo kInfo;

}  // namespace rpcgate::codec::protobuf
