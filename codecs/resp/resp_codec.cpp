// The resp codec's entry points for the registry (codecs/registry.cpp).
#include "codecs/resp/resp_codec.h"

#include "codecs/resp/resp_client_codec.h"
#include "codecs/resp/resp_server_codec.h"

namespace rpcgate::codec::resp {

std::unique_ptr<ServerCodec> make_server_codec(const CodecOptions& options) {
  return std::make_unique<RespServerCodec>(options);
}

std::unique_ptr<ClientCodec> make_client_codec(const CodecOptions& options) {
  return std::make_unique<RespClientCodec>(options);
}

}  // namespace rpcgate::codec::resp
