// The json codec's registry entry (codecs/registry.cpp) and the option it owns.
#include "codecs/json/json_codec.h"

namespace rpcgate::codec::json {
namespace {

constexpr std::string_view kByteOrders[] = {"little", "big"};

const CodecOption kOptions[] = {
    {.key = "length_byte_order",
     .kind = CodecOption::Kind::kChoice,
     .choices = kByteOrders,
     .apply =
         [](CodecOptions& options, const CodecOption::Value& value) {
           options.length_byte_order = value.text == "big" ? ByteOrder::kBig : ByteOrder::kLittle;
         },
     .show = [](const CodecOptions& options) -> Json {
       return options.length_byte_order == ByteOrder::kBig ? "big" : "little";
     }},
};

}  // namespace

const CodecInfo kInfo = {
    .name = "json",
    .make_server = &make_server_codec,
    .make_client = &make_client_codec,
    .options = kOptions,
    .same_framing = [](const CodecOptions& a,
                       const CodecOptions& b) { return a.length_byte_order == b.length_byte_order; },
};

}  // namespace rpcgate::codec::json
