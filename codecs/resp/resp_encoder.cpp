// Response -> RESP2/RESP3 bytes (docs/protocols.md, "resp": Response). Appends in place; only JSON
// objects in RESP2 (sent as their JSON text) need a temporary string.
#include "codecs/resp/resp_encoder.h"

#include <charconv>
#include <cstdint>
#include <limits>

#include "codecs/resp/resp_writer.h"

namespace rpcgate::codec::resp {
namespace {

std::string_view binary_view(const Json::binary_t& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// JSON text that never throws: invalid UTF-8 inside strings is replaced, not reported.
std::string json_text(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace

void RespEncoder::encode_response(const Response& response, std::string& out) {
  if (response.kind == kKindHello2) protocol_ = 2;
  if (response.kind == kKindHello3) protocol_ = 3;

  if (response.is_error() && response.kind == kKindRawError) {
    append_simple(out, '-', response.message);
    return;
  }
  if (response.is_error()) {
    out.push_back('-');
    out.append(error_code_name(response.error));
    if (!response.message.empty()) {
      append_simple(out, ' ', response.message);  // the "type byte" is the separating space
    } else {
      out.append("\r\n");
    }
    return;
  }
  if (!response.status.empty()) {
    append_simple(out, '+', response.status);
    return;
  }
  if (response.kind == kKindRawReply) {
    out.append(response.payload);
    return;
  }
  if (response.kind == kKindMap || response.kind == kKindHello2 || response.kind == kKindHello3) {
    encode_flat_map(response.result, out);
    return;
  }
  if (response.result.is_null() && !response.payload.empty()) {
    append_bulk(out, response.payload);
    return;
  }
  encode_value(response.result, out);
}

void RespEncoder::encode_flat_map(const Json& pairs, std::string& out) const {
  if (!pairs.is_array()) {  // not a shape this codec builds; send it as a plain value
    encode_value(pairs, out);
    return;
  }
  if (protocol_ == 3)
    append_unsigned_header(out, '%', pairs.size() / 2);
  else
    append_unsigned_header(out, '*', pairs.size() / 2 * 2);
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    encode_value(pairs[i], out);
    encode_value(pairs[i + 1], out);
  }
}

void RespEncoder::encode_value(const Json& value, std::string& out) const {
  switch (value.type()) {
    case Json::value_t::null:
    case Json::value_t::discarded:
      out.append(protocol_ == 3 ? "_\r\n" : "$-1\r\n");
      return;
    case Json::value_t::boolean: {
      bool b = value.get<bool>();
      if (protocol_ == 3)
        out.append(b ? "#t\r\n" : "#f\r\n");
      else
        out.append(b ? ":1\r\n" : ":0\r\n");
      return;
    }
    case Json::value_t::number_integer:
      append_header(out, ':', value.get<int64_t>());
      return;
    case Json::value_t::number_unsigned: {
      uint64_t u = value.get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        append_header(out, ':', static_cast<int64_t>(u));
        return;
      }
      // Beyond a RESP integer: RESP3 has big numbers; RESP2 gets the digits as a bulk string.
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, u);
      (void)ec;
      std::string_view digits(buf, static_cast<size_t>(end - buf));
      if (protocol_ == 3) {
        out.push_back('(');
        out.append(digits);
        out.append("\r\n");
      } else {
        append_bulk(out, digits);
      }
      return;
    }
    case Json::value_t::number_float: {
      char buf[kDoubleTextMax];
      std::string_view text(buf, format_double(value.get<double>(), buf));
      if (protocol_ == 3) {
        out.push_back(',');
        out.append(text);
        out.append("\r\n");
      } else {
        append_bulk(out, text);
      }
      return;
    }
    case Json::value_t::string:
      append_bulk(out, value.get_ref<const std::string&>());
      return;
    case Json::value_t::binary:
      append_bulk(out, binary_view(value.get_binary()));
      return;
    case Json::value_t::array:
      append_unsigned_header(out, '*', value.size());
      for (const auto& element : value) encode_value(element, out);
      return;
    case Json::value_t::object:
      if (protocol_ == 3) {
        append_unsigned_header(out, '%', value.size());
        for (auto it = value.begin(); it != value.end(); ++it) {
          append_bulk(out, it.key());
          encode_value(it.value(), out);
        }
      } else {
        append_bulk(out, json_text(value));
      }
      return;
  }
}

}  // namespace rpcgate::codec::resp
