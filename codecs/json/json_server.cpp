// The json codec's server side: `{"in": method, "params": ...}` frames in, `{"out": kind,
// "result": ...}` frames out, each behind a 4-byte length in the listener's byte order.
#include <string>
#include <utility>

#include "codecs/framing.h"
#include "codecs/json/bounded_parse.h"
#include "codecs/json/envelope.h"
#include "codecs/json/json_codec.h"
#include "codecs/json/json_writer.h"

namespace rpcgate::codec::json {
namespace {

// The `out` of a successful response whose handler named no kind.
constexpr std::string_view kDefaultKind = "result";

// Fills `request` from a parsed envelope, moving params and strings out of it. False (with
// `error`) when the envelope breaks the protocol; `id` is set whenever the id itself was valid, so
// the error reply can carry it.
bool read_request(Json& document, Request& request, std::optional<uint64_t>& id, std::string& error) {
  if (!document.is_object()) {
    error = "a request must be a JSON object";
    return false;
  }
  auto& envelope = document.get_ref<Json::object_t&>();
  if (!read_id(envelope, id)) {
    error = "\"id\" must be an unsigned integer";
    return false;
  }
  Json* method = find_member(envelope, "in");
  if (method == nullptr || !method->is_string()) {
    error = "a request needs \"in\", the method name, as a string";
    return false;
  }
  if (!read_meta(envelope, request.meta)) {
    error = "\"meta\" must be an object of strings";
    return false;
  }
  request.method = std::move(method->get_ref<std::string&>());
  Json* params = find_member(envelope, "params");
  request.params = params != nullptr ? std::move(*params) : Json(nullptr);
  request.id = id;
  request.payload.clear();
  return true;
}

class JsonServerCodec final : public ServerCodec {
 public:
  explicit JsonServerCodec(const CodecOptions& options) : limits_(options.limits), order_(options.length_byte_order) {}

  DecodeResult decode(std::string_view input, Request& request, Response& reply) override {
    FrameCut cut = cut_frame(input, order_, limits_.max_frame_bytes);
    if (cut.status == FrameStatus::kNeedMore) return {};
    if (cut.status == FrameStatus::kTooLarge) {
      reply.clear();
      reply.set_error(ErrorCode::kTooLarge, too_large_message(cut.body_length, limits_.max_frame_bytes));
      return {DecodeStatus::kBroken, 0};
    }

    // From here the frame boundary is known: any error is answered and the stream stays usable.
    Json document;
    std::optional<uint64_t> id;
    std::string error;
    if (parse_envelope(cut.body, limits_.max_depth, document, error) && read_request(document, request, id, error))
      return {DecodeStatus::kRequest, cut.frame_bytes()};
    reply.clear();
    reply.id = id;
    reply.set_error(ErrorCode::kBadRequest, std::move(error));
    return {DecodeStatus::kAnswered, cut.frame_bytes()};
  }

  // An id or metadata would be lost on a legacy upstream and the id not echoed: those requests
  // are re-encoded, with the id kept by the gateway.
  std::string_view forward_frame(std::string_view frame, const Request& request) override {
    return !request.id && request.meta.empty() ? frame : std::string_view();
  }

  void encode(const Response& response, std::string& out) override {
    size_t start = begin_frame(out);
    write_body(response, out);
    if (end_frame(out, start, order_)) return;
    Response too_large;
    too_large.id = response.id;
    too_large.set_error(ErrorCode::kInternal, "response too large for a 4-byte length");
    start = begin_frame(out);
    write_body(too_large, out);
    end_frame(out, start, order_);
  }

 private:
  // Response::status and Response::payload have no place in this protocol and are not written.
  static void write_body(const Response& response, std::string& out) {
    out += "{\"out\": ";
    if (response.is_error()) {
      out += "\"error\", \"result\": {\"code\": ";
      write_json_string(error_code_name(response.error), out);
      out += ", \"message\": ";
      write_json_string(response.message, out);
      out += '}';
    } else {
      write_json_string(response.kind.empty() ? kDefaultKind : response.kind, out);
      out += ", \"result\": ";
      write_json(response.result, out);
    }
    write_id(response.id, out);
    out += '}';
  }

  Limits limits_;
  ByteOrder order_;
};

}  // namespace

std::unique_ptr<ServerCodec> make_server_codec(const CodecOptions& options) {
  return std::make_unique<JsonServerCodec>(options);
}

}  // namespace rpcgate::codec::json
