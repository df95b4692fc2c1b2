// PLACEHOLDER until the protobuf codec lands: replace this whole file.
#include "codecs/protobuf/protobuf_codec.h"

namespace rpcgate::codec::protobuf {

std::unique_ptr<ServerCodec> make_server_codec(const CodecOptions&) { return nullptr; }
std::unique_ptr<ClientCodec> make_client_codec(const CodecOptions&) { return nullptr; }

}  // namespace rpcgate::codec::protobuf
