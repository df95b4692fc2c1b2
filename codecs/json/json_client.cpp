// The json codec's client side, towards legacy services: `{"in": method, "params": ...}` frames
// out, `{"out": kind, "result": ...}` frames in, matched to requests by order.
#include <string>
#include <utility>

#include "codecs/framing.h"
#include "codecs/json/bounded_parse.h"
#include "codecs/json/envelope.h"
#include "codecs/json/json_codec.h"
#include "codecs/json/json_writer.h"

namespace rpcgate::codec::json {
namespace {

// Fills `response` from a parsed envelope. `{"out": "error", "result": {"code": ..., "message":
// ...}}` becomes an error (a code rpcgate does not know becomes UPSTREAM_ERROR); any other `out`
// is a result of that kind, passed on unchanged.
bool read_response(Json& document, Response& response, std::string& error) {
  if (!document.is_object()) {
    error = "a response must be a JSON object";
    return false;
  }
  auto& envelope = document.get_ref<Json::object_t&>();
  std::optional<uint64_t> id;
  if (!read_id(envelope, id)) {
    error = "\"id\" must be an unsigned integer";
    return false;
  }
  Json* kind = find_member(envelope, "out");
  if (kind == nullptr || !kind->is_string()) {
    error = "a response needs \"out\" as a string";
    return false;
  }
  Json* result = find_member(envelope, "result");
  response.id = id;
  auto& kind_text = kind->get_ref<std::string&>();
  if (kind_text == "error" && result != nullptr && result->is_object()) {
    auto& fields = result->get_ref<Json::object_t&>();
    Json* code = find_member(fields, "code");
    if (code != nullptr && code->is_string()) {
      Json* message = find_member(fields, "message");
      auto known = error_code_from_name(code->get_ref<const std::string&>());
      response.set_error(known.value_or(ErrorCode::kUpstreamError), message != nullptr && message->is_string()
                                                                        ? std::move(message->get_ref<std::string&>())
                                                                        : std::string());
      return true;
    }
  }
  response.kind = std::move(kind_text);
  if (result != nullptr) response.result = std::move(*result);
  return true;
}

class JsonClientCodec final : public ClientCodec {
 public:
  explicit JsonClientCodec(const CodecOptions& options) : limits_(options.limits), order_(options.length_byte_order) {}

  // Request::payload has no place in this protocol and is not written.
  void encode(const Request& request, std::string& out) override {
    size_t start = begin_frame(out);
    out += "{\"in\": ";
    write_json_string(request.method, out);
    out += ", \"params\": ";
    write_json(request.params, out);
    write_id(request.id, out);
    write_meta(request.meta, out);
    out += '}';
    // A request over 4 GiB cannot be framed; writing none makes the upstream time it out rather
    // than desynchronising the connection. The gateway never builds one: its limits are far lower.
    end_frame(out, start, order_);
  }

  DecodeResult decode(std::string_view input, Response& response) override {
    FrameCut cut = cut_frame(input, order_, limits_.max_frame_bytes);
    if (cut.status == FrameStatus::kNeedMore) return {};
    response.clear();
    if (cut.status == FrameStatus::kTooLarge) {
      response.set_error(ErrorCode::kTooLarge,
                         "upstream " + too_large_message(cut.body_length, limits_.max_frame_bytes));
      return {DecodeStatus::kBroken, 0};
    }
    // The frame boundary is known, but an upstream that sends a frame we cannot read does not
    // speak the protocol (or not within our limits): nothing it sends next can be trusted.
    Json document;
    std::string error;
    if (!parse_envelope(cut.body, limits_.max_depth, document, error) || !read_response(document, response, error)) {
      response.clear();
      response.set_error(ErrorCode::kUpstreamError, "bad response from upstream: " + error);
      return {DecodeStatus::kBroken, 0};
    }
    return {DecodeStatus::kAnswered, cut.frame_bytes()};
  }

  DecodeResult skip(std::string_view input, Response& error) override {
    FrameCut cut = cut_frame(input, order_, limits_.max_frame_bytes);
    if (cut.status == FrameStatus::kNeedMore) return {};
    if (cut.status == FrameStatus::kTooLarge) return decode(input, error);
    return {DecodeStatus::kAnswered, cut.frame_bytes()};
  }

 private:
  Limits limits_;
  ByteOrder order_;
};

}  // namespace

std::unique_ptr<ClientCodec> make_client_codec(const CodecOptions& options) {
  return std::make_unique<JsonClientCodec>(options);
}

}  // namespace rpcgate::codec::json
