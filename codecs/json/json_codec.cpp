// PLACEHOLDER until the json codec lands: replace this whole file.
#include "codecs/json/json_codec.h"

namespace rpcgate::codec::json {

std::unique_ptr<ServerCodec> make_server_codec(const CodecOptions&) { return nullptr; }
std::unique_ptr<ClientCodec> make_client_codec(const CodecOptions&) { return nullptr; }

}  // namespace rpcgate::codec::json
