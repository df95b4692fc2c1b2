// The json wire format (docs/protocols.md): server and client codecs behind the codec seam.
#pragma once

#include <memory>

#include "codecs/codec.h"

namespace rpcgate::codec::json {

// Frames are a 4-byte length (CodecOptions::length_byte_order, little-endian by default) and that
// many bytes of JSON. Choices the protocol leaves open, made here:
// - Text out is what Python's json.dumps() writes by default (", " / ": " separators, \uXXXX
//   escapes, repr() doubles), so rpcgate's frames match the legacy services' own byte for byte,
//   except that object keys come out sorted (nlohmann::json keeps no insertion order). NaN and
//   infinities are written as null, binary values as base64 strings, bytes that are not UTF-8
//   as U+FFFD.
// - Nesting (Limits::max_depth) counts containers inside the envelope: what params or result may
//   hold. It is checked while parsing, which stops at the first container too deep.
// - A response without a kind goes out as {"out": "result", ...}. The id, when there is one, is
//   written after the result. Response::status and the payload of requests and responses have no
//   place in this protocol and are not written.
// - An "id" that is not an unsigned integer, or a "meta" that is not an object of strings, is a
//   BAD_REQUEST, as is a missing or non-string "in"; "id": null and "meta": null mean absent.
// - Client side: {"out": "error", "result": {"code": C, "message": M}} is an error (a code rpcgate
//   does not know becomes UPSTREAM_ERROR); any other "out" is a result of that kind. A response
//   that is not JSON, or not such an object, fails its request with UPSTREAM_ERROR; the
//   connection stays, since the frame boundary is known.
std::unique_ptr<ServerCodec> make_server_codec(const CodecOptions& options);
std::unique_ptr<ClientCodec> make_client_codec(const CodecOptions& options);

// Its entry in the codec registry: the factories and the options it owns.
extern const CodecInfo kInfo;

}  // namespace rpcgate::codec::json
