// The protobuf codec's registry entry (codecs/registry.cpp): it owns no option beyond the limits.
#include "codecs/protobuf/protobuf_codec.h"

namespace rpcgate::codec::protobuf {

const CodecInfo kInfo = {
    .name = "protobuf",
    .make_server = &make_server_codec,
    .make_client = &make_client_codec,
};

}  // namespace rpcgate::codec::protobuf
