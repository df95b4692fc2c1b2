// PLACEHOLDER until the resp codec lands: replace this whole file.
#include "codecs/resp/resp_codec.h"

namespace rpcgate::codec::resp {

std::unique_ptr<ServerCodec> make_server_codec(const CodecOptions&) { return nullptr; }
std::unique_ptr<ClientCodec> make_client_codec(const CodecOptions&) { return nullptr; }

}  // namespace rpcgate::codec::resp
