// The RESP client codec. Arguments: strings and binary as their bytes, numbers as their text,
// true/false/null and objects/arrays as JSON text.
#include "codecs/resp/resp_client_codec.h"

#include <algorithm>
#include <charconv>

#include "codecs/resp/resp_writer.h"
#include "codecs/resp/stateful_commands.h"

namespace rpcgate::codec::resp {

namespace {

// Limits for replies that are only forwarded: the cluster's sizes, and nesting as deep as Redis
// can build one (a script's nested tables reach about 2,000 levels before Lua's C stack limit;
// hiredis would refuse 8). A reply that is only scanned costs 8 bytes per level.
constexpr size_t kForwardedDepth = 4096;

Limits forwarding_limits(Limits limits) {
  limits.max_depth = std::max(limits.max_depth, kForwardedDepth);
  return limits;
}

}  // namespace

RespClientCodec::RespClientCodec(const CodecOptions& options)
    : options_(options), reader_(options.limits), scanner_(forwarding_limits(options.limits)) {
  if (redis_cluster(options)) {
    sharding_ = std::make_unique<RespSharding>(options.limits);
    sharding_->set_with_replicas(reads_from_replicas(options));
  }
}

bool RespClientCodec::shareable(const Request& request) const { return resp::shareable(request); }

void RespClientCodec::encode(const Request& request, std::string& out) {
  const Json& params = request.params;
  size_t count = 1;
  if (params.is_array())
    count += params.size();
  else if (!params.is_null())
    count += 1;
  append_unsigned_header(out, '*', count);
  append_bulk(out, request.method);
  if (params.is_array()) {
    for (const Json& element : params) append_argument(element, out);
  } else if (!params.is_null()) {
    append_argument(params, out);
  }
}

void RespClientCodec::append_argument(const Json& value, std::string& out) {
  char buf[kDoubleTextMax];
  switch (value.type()) {
    case Json::value_t::string:
      append_bulk(out, value.get_ref<const std::string&>());
      return;
    case Json::value_t::binary: {
      const auto& bytes = value.get_binary();
      append_bulk(out, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
      return;
    }
    case Json::value_t::number_integer: {
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value.get<int64_t>());
      (void)ec;
      append_bulk(out, std::string_view(buf, static_cast<size_t>(end - buf)));
      return;
    }
    case Json::value_t::number_unsigned: {
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value.get<uint64_t>());
      (void)ec;
      append_bulk(out, std::string_view(buf, static_cast<size_t>(end - buf)));
      return;
    }
    case Json::value_t::number_float:
      append_bulk(out, std::string_view(buf, format_double(value.get<double>(), buf)));
      return;
    default:  // null, booleans, objects, arrays
      append_bulk(out, value.dump(-1, ' ', false, Json::error_handler_t::replace));
      return;
  }
}

std::string RespClientCodec::connection_preamble() const {
  if (options_.auth_password.empty()) return {};
  std::string frame;
  bool with_user = !options_.auth_username.empty();
  append_unsigned_header(frame, '*', with_user ? 3 : 2);
  append_bulk(frame, "AUTH");
  if (with_user) append_bulk(frame, options_.auth_username);
  append_bulk(frame, options_.auth_password);
  return frame;
}

DecodeResult RespClientCodec::skip(std::string_view input, Response& error) {
  // A reply decode() began reading for a call that has since given up is finished by the same
  // reader, which holds its start.
  if (reader_.fed() > 0) return read_reply(input, error, false);
  if (broken_) return broken(broken_code_, broken_message_, error);
  Resp3Frame frame = scanner_.scan(input);
  switch (frame.status) {
    case Resp3Frame::Status::kFrame:
      return DecodeResult{DecodeStatus::kAnswered, frame.length};
    case Resp3Frame::Status::kError:
      if (frame.oversized) return oversized(frame.message, error);
      return broken(frame.code, frame.message, error);
    case Resp3Frame::Status::kNeedMore:
      break;
  }
  // Everything buffered belongs to this reply, which is not whole yet.
  if (input.size() > options_.limits.max_request_bytes)
    return oversized("upstream reply larger than " + std::to_string(options_.limits.max_request_bytes) + " bytes",
                     error);
  return DecodeResult{};
}

DecodeResult RespClientCodec::oversized(const std::string& message, Response& error) {
  // Well formed, only larger than this cluster may hold: its own request fails, and the
  // connection (maybe shared with other clients) goes on past it.
  error.clear();
  error.set_error(ErrorCode::kTooLarge, message + " (the reply was skipped)");
  return DecodeResult{DecodeStatus::kOversized, 0};
}

// RESP3 replies come only to a client that asked for RESP3, and reach it through skip().
DecodeResult RespClientCodec::discard(std::string_view input, Response& error) {
  bool done = false;
  Resp3Frame failure;
  const size_t consumed = scanner_.discard(input, done, failure);
  if (failure.status == Resp3Frame::Status::kError) return broken(failure.code, failure.message, error);
  return DecodeResult{done ? DecodeStatus::kAnswered : DecodeStatus::kNeedMore, consumed};
}

DecodeResult RespClientCodec::decode(std::string_view input, Response& response) {
  return read_reply(input, response, true);
}

DecodeResult RespClientCodec::read_reply(std::string_view input, Response& response, bool build) {
  if (broken_) return broken(broken_code_, broken_message_, response);
  if (input.size() < reader_.fed())
    return broken(ErrorCode::kInternal, "input shorter than the bytes already handed over", response);
  const size_t window = std::min(input.size(), options_.limits.max_request_bytes);
  ReplyReader::Result read = reader_.read(input, window);
  switch (read.outcome) {
    case ReplyReader::Outcome::kReply:
      if (build) reader_.build(input, response);
      reader_.consume(read.end);
      return DecodeResult{DecodeStatus::kAnswered, read.end};
    case ReplyReader::Outcome::kError:
      return broken(read.code, read.message, response);
    case ReplyReader::Outcome::kNeedMore:
      break;
  }
  if (input.size() > options_.limits.max_request_bytes)
    return broken(ErrorCode::kTooLarge,
                  "reply larger than " + std::to_string(options_.limits.max_request_bytes) + " bytes", response);
  return DecodeResult{};
}

DecodeResult RespClientCodec::broken(ErrorCode code, std::string_view message, Response& response) {
  if (!broken_) {
    broken_ = true;
    broken_code_ = code;
    broken_message_.assign(message);
  }
  response.clear();
  response.set_error(broken_code_, broken_message_);
  return DecodeResult{DecodeStatus::kBroken, 0};
}

}  // namespace rpcgate::codec::resp
