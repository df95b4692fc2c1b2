// What both sides of the grpc codec need of HTTP/2 around nghttp2: cutting one whole frame off the
// input (nghttp2 is fed a frame at a time, so each decode reports what that frame finished), a
// header field for nghttp2_submit_*, and the headers that are the protocol's rather than a call's.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rpcgate::codec::grpc {

inline constexpr size_t kFrameHeaderBytes = 9;
// Neither side raises SETTINGS_MAX_FRAME_SIZE, so a bigger frame is the peer's error, and no
// frame held waiting for its end is larger than this.
inline constexpr size_t kMaxFrameBytes = 16384;
// Where request metadata carries a call's deadline (backends/upstream_connection.h,
// kTimeoutMetaKey; the json and protobuf codecs carry it under the same key).
inline constexpr std::string_view kTimeoutMeta = "timeout_ms";

// The payload length a frame header announces; `input` holds at least kFrameHeaderBytes.
inline size_t frame_length(std::string_view input) {
  const auto byte = [&](size_t i) { return static_cast<size_t>(static_cast<unsigned char>(input[i])); };
  return byte(0) << 16 | byte(1) << 8 | byte(2);
}

// nghttp2 copies the name and value when the frame is submitted: views may end after the call.
inline nghttp2_nv header(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                    NGHTTP2_NV_FLAG_NONE};
}

// Headers that are the protocol's, not the call's metadata.
inline bool reserved_header(std::string_view name) {
  return name.empty() || name[0] == ':' || name.starts_with("grpc-") || name == "content-type" || name == "te" ||
         name == "user-agent" || name == "content-length";
}

// What says how a call's messages are compressed, and how its answers may be. A streamed call's
// messages pass as their sender framed them, compressed or not, so these travel with them, both
// ways; a translated call's messages are inflated here and go out plain.
inline bool compression_header(std::string_view name) {
  return name == "grpc-encoding" || name == "grpc-accept-encoding";
}

// A header rpcgate may send from metadata: a lower-case token (HTTP/2 refuses upper case) that is
// not the protocol's own, with a value of visible ASCII, as gRPC's custom metadata is ("-bin"
// values travel base64, which is).
inline bool sendable_header(std::string_view name, std::string_view value) {
  if (reserved_header(name)) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return false;
  for (char c : value)
    if (c < 0x20 || c > 0x7E) return false;
  return true;
}

// Where a grpc cluster keeps an upstream's own status in Response::trailers, so that a grpc
// listener answers with it exactly, whatever its code (rpcgate's error table has a dozen of
// gRPC's seventeen). Reserved names: never taken from, nor sent as, custom metadata.
inline constexpr std::string_view kStatusTrailer = "grpc-status";
inline constexpr std::string_view kMessageTrailer = "grpc-message";
inline constexpr std::string_view kDetailsTrailer = "grpc-status-details-bin";  // google.rpc.Status

// Appends every byte the session has to send to `out`; false when nghttp2 fails (only out of
// memory), after which the session has nothing more to say.
inline bool send_pending(nghttp2_session* session, std::string& out) {
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session, &data);
    if (n == 0) return true;
    if (n < 0) return false;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
}

}  // namespace rpcgate::codec::grpc
