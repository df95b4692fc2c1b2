// The resp wire format (docs/protocols.md): server and client codecs behind the codec seam.
#pragma once

#include <memory>

#include "codecs/codec.h"

namespace rpcgate::codec::resp {

std::unique_ptr<ServerCodec> make_server_codec(const CodecOptions& options);
std::unique_ptr<ClientCodec> make_client_codec(const CodecOptions& options);

// Its entry in the codec registry: the factories and the options it owns.
extern const CodecInfo kInfo;

}  // namespace rpcgate::codec::resp
