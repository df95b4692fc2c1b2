// The protobuf codec's server side: rpcgate.v1.Request frames in, rpcgate.v1.Response frames out,
// each behind a 4-byte big-endian length. Answers carry the request's id, so they may leave in
// completion order.
#include <algorithm>
#include <string>
#include <utility>

#include "codecs/framing.h"
#include "codecs/protobuf/protobuf_codec.h"
#include "codecs/protobuf/value_convert.h"
#include "codecs/protobuf/wire.h"
#include "rpcgate.pb.h"

namespace rpcgate::codec::protobuf {
namespace {

class ProtobufServerCodec final : public ServerCodec {
 public:
  explicit ProtobufServerCodec(const CodecOptions& options)
      : max_depth_(options.limits.max_depth),
        max_body_(max_body_bytes(options.limits)),
        recursion_limit_(recursion_limit(options.limits.max_depth)) {}

  DecodeResult bad_request(Response& reply, const FrameCut& cut, std::string message) {
    reply.id = message_.id();
    reply.set_error(ErrorCode::kBadRequest, std::move(message));
    return {DecodeStatus::kAnswered, cut.frame_bytes()};
  }

  DecodeResult decode(std::string_view input, Request& request, Response& reply) override {
    FrameCut cut = cut_frame(input, kByteOrder, max_body_);
    if (cut.status == FrameStatus::kNeedMore) return {};
    if (cut.status == FrameStatus::kTooLarge)
      return bad_frame(reply, ErrorCode::kTooLarge, too_large_message(cut.body_length, max_body_));

    // docs/protocols.md: a bad frame is answered with id 0 and the connection closed. A frame that
    // parses is not a bad frame: a request it describes badly gets an error with its own id, and
    // the connection goes on, as a json frame with invalid JSON does.
    if (!parse_message(cut.body, recursion_limit_, message_))
      return bad_frame(reply, ErrorCode::kBadRequest, "frame is not a valid rpcgate.v1.Request");
    if (message_.method().empty()) return bad_request(reply, cut, "request has no method");
    Json params;
    if (message_.has_params() && !value_to_json(*message_.mutable_params(), max_depth_, params))
      return bad_request(reply, cut, "params nested deeper than " + std::to_string(max_depth_));

    request.method.assign(message_.method());
    request.params = std::move(params);
    request.id = message_.id();
    request.meta.clear();
    request.meta.reserve(message_.meta_size());
    for (const auto& [key, value] : message_.meta()) request.meta.emplace_back(key, value);
    // Map order is unspecified (and seeded per map): sort, so one input always decodes the same.
    std::sort(request.meta.begin(), request.meta.end());
    // Move rather than copy: a payload may be large, and message_ must not keep its memory.
    if (message_.payload().empty())
      request.payload.clear();
    else
      request.payload = std::move(*message_.mutable_payload());
    return {DecodeStatus::kRequest, cut.frame_bytes()};
  }

  // Response::status has no place in this protocol and is not written. A result that is a binary
  // value travels as `payload` when the response has no payload of its own.
  void encode(const Response& response, std::string& out) override {
    reply_.Clear();
    reply_.set_id(response.id.value_or(0));
    std::string_view payload;
    if (response.is_error()) {
      auto& error = *reply_.mutable_error();
      error.mutable_code()->assign(error_code_name(response.error));
      assign_utf8(*error.mutable_message(), response.message);
    } else {
      if (!response.kind.empty()) assign_utf8(*reply_.mutable_kind(), response.kind);
      payload = response.payload;
      if (response.result.is_binary() && payload.empty())
        payload = binary_bytes(response.result);
      else if (!response.result.is_null())
        json_to_value(response.result, *reply_.mutable_result());
    }
    if (write_frame(reply_, payload, out)) return;
    reply_.Clear();
    reply_.set_id(response.id.value_or(0));
    reply_.mutable_error()->mutable_code()->assign(error_code_name(ErrorCode::kInternal));
    reply_.mutable_error()->set_message("response too large for a 4-byte length");
    write_frame(reply_, {}, out);
  }

  // Every response carries its request's id: clients match by it, so nobody waits for a slow call.
  bool answers_in_order() const override { return false; }

 private:
  static DecodeResult bad_frame(Response& reply, ErrorCode code, std::string message) {
    reply.clear();
    reply.id = 0;
    reply.set_error(code, std::move(message));
    return {DecodeStatus::kBroken, 0};
  }

  size_t max_depth_;
  size_t max_body_;
  int recursion_limit_;
  rpcgate::v1::Request message_;  // reused: Clear() keeps the memory of its strings and map
  rpcgate::v1::Response reply_;
};

}  // namespace

std::unique_ptr<ServerCodec> make_server_codec(const CodecOptions& options) {
  return std::make_unique<ProtobufServerCodec>(options);
}

}  // namespace rpcgate::codec::protobuf
