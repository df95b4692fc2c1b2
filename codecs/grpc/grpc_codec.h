// The grpc codec (docs/grpc.md): gRPC over cleartext HTTP/2 (prior knowledge), driven through
// nghttp2's I/O-free session API, on both sides, unary calls: on a listener each call becomes a
// canonical request, its message translated through the listener's protobuf descriptors, and each
// answer goes back on its own stream, in completion order; on a cluster each request becomes a
// call on a stream of a shared connection, translated through the cluster's descriptors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "codecs/codec.h"

namespace rpcgate::codec::grpc {

// A listener's or a cluster's settings, read from CodecOptions (the keys of kInfo.options, docs/grpc.md).
struct Settings {
  size_t max_message_bytes = 4u << 20;  // gRPC's own default
  uint32_t max_concurrent_streams = 100;
  size_t max_header_list_bytes = 16u << 10;
  uint32_t initial_window_bytes = 1u << 20;
  // The buffered, still incomplete request messages of one connection, all streams together.
  size_t max_pending_bytes = 16u << 20;
  uint64_t max_resets = 1000;       // RST_STREAM burst from a client (rapid reset)
  uint64_t resets_per_second = 33;  // and the rate that refills it
  bool unwrap = false;
};

Settings settings_of(const CodecOptions& options);

std::unique_ptr<ServerCodec> make_server_codec(const CodecOptions& options);
// The cluster side (grpc_client.cpp): unary calls to gRPC servers, many streams per connection.
std::unique_ptr<ClientCodec> make_client_codec(const CodecOptions& options);

// Its entry in the codec registry: the factories and the options it owns.
extern const CodecInfo kInfo;

}  // namespace rpcgate::codec::grpc
