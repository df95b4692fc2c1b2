// The protobuf codec's client side, towards protobuf upstreams: rpcgate.v1.Request frames out,
// rpcgate.v1.Response frames in, matched to requests by id.
#include <string>
#include <utility>

#include "codecs/framing.h"
#include "codecs/protobuf/protobuf_codec.h"
#include "codecs/protobuf/value_convert.h"
#include "codecs/protobuf/wire.h"
#include "rpcgate.pb.h"

namespace rpcgate::codec::protobuf {
namespace {

class ProtobufClientCodec final : public ClientCodec {
 public:
  explicit ProtobufClientCodec(const CodecOptions& options)
      : max_depth_(options.limits.max_depth),
        max_body_(max_body_bytes(options.limits)),
        recursion_limit_(recursion_limit(options.limits.max_depth)) {}

  // Binary params travel as `payload` when the request has no payload of its own, as results do.
  void encode(const Request& request, std::string& out) override {
    outgoing_.Clear();
    outgoing_.set_id(request.id.value_or(0));
    assign_utf8(*outgoing_.mutable_method(), request.method);
    std::string_view payload = request.payload;
    if (request.params.is_binary() && payload.empty())
      payload = binary_bytes(request.params);
    else if (!request.params.is_null())
      json_to_value(request.params, *outgoing_.mutable_params());
    auto& meta = *outgoing_.mutable_meta();
    for (const auto& [key, value] : request.meta) {
      std::string valid_key;
      assign_utf8(valid_key, key);
      assign_utf8(meta[valid_key], value);
    }
    // Cannot fail under any decoder's limits (far below 4 GiB); if it did, nothing is written.
    write_frame(outgoing_, payload, out);
  }

  bool carries_meta() const override { return true; }
  bool matches_by_id() const override { return true; }

  // Replies are matched by id, so every one is parsed; skipping is only for replies nobody
  // waits for any more.
  DecodeResult skip(std::string_view input, Response& error) override { return decode(input, error); }

  DecodeResult decode(std::string_view input, Response& response) override {
    FrameCut cut = cut_frame(input, kByteOrder, max_body_);
    if (cut.status == FrameStatus::kNeedMore) return {};
    response.clear();
    if (cut.status == FrameStatus::kTooLarge) {
      response.set_error(ErrorCode::kTooLarge, "upstream " + too_large_message(cut.body_length, max_body_));
      return {DecodeStatus::kBroken, 0};
    }
    // Without a parsed id the answer matches no request: the connection cannot go on.
    if (!parse_message(cut.body, recursion_limit_, incoming_)) {
      response.set_error(ErrorCode::kUpstreamError, "upstream frame is not a valid rpcgate.v1.Response");
      return {DecodeStatus::kBroken, 0};
    }
    DecodeResult answered{DecodeStatus::kAnswered, cut.frame_bytes()};
    response.id = incoming_.id();
    if (incoming_.has_error()) {
      auto code = error_code_from_name(incoming_.error().code());
      response.set_error(code.value_or(ErrorCode::kUpstreamError),
                         std::move(*incoming_.mutable_error()->mutable_message()));
      return answered;
    }
    // Past here the id is known, so a result too deep fails just the request it answers.
    if (incoming_.has_result() && !value_to_json(*incoming_.mutable_result(), max_depth_, response.result)) {
      response.result = nullptr;
      response.set_error(ErrorCode::kUpstreamError, "upstream result nested deeper than " + std::to_string(max_depth_));
      return answered;
    }
    response.kind.assign(incoming_.kind());
    if (!incoming_.payload().empty()) response.payload = std::move(*incoming_.mutable_payload());
    return answered;
  }

 private:
  size_t max_depth_;
  size_t max_body_;
  int recursion_limit_;
  rpcgate::v1::Request outgoing_;  // both reused: Clear() keeps their strings' memory
  rpcgate::v1::Response incoming_;
};

}  // namespace

std::unique_ptr<ClientCodec> make_client_codec(const CodecOptions& options) {
  return std::make_unique<ProtobufClientCodec>(options);
}

}  // namespace rpcgate::codec::protobuf
