// Command arguments -> Request. A command without arguments does no JSON work at all: PING must
// stay cheap.
#include "codecs/resp/command_params.h"

#include <cstdint>
#include <vector>

#include "codecs/utf8.h"

namespace rpcgate::codec::resp {
namespace {

// nlohmann's parser recurses once per nesting level, so the depth is checked on the raw text
// before it parses anything: a long run of '[' must not reach the parser's stack.
bool nesting_within(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

// Could `text` be a JSON text at all? Saves a parser run on the usual plain-word argument, and
// keeps " 1" and "1 " the strings they are (the parser would skip the whitespace).
bool may_be_json(std::string_view text) {
  if (text.empty()) return false;
  char c = text[0];
  char last = text.back();
  bool starts =
      c == '{' || c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n';
  bool ends = last != ' ' && last != '\t' && last != '\n' && last != '\r';
  return starts && ends;
}

// An integer literal too long for 64 bits parses as a double and loses digits: a key like
// 123456789012345678901234 must stay the string the client sent.
bool is_integer_literal(std::string_view text) {
  for (char c : text)
    if (c == '.' || c == 'e' || c == 'E') return false;
  return true;
}

Json binary_argument(std::string_view arg) { return Json::binary(std::vector<std::uint8_t>(arg.begin(), arg.end())); }

}  // namespace

bool parse_json_text(std::string_view text, size_t max_depth, Json& out) {
  if (!nesting_within(text, max_depth)) return false;
  Json value = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return false;
  out = std::move(value);
  return true;
}

Json string_argument(std::string_view arg) {
  if (!is_valid_utf8(arg)) return binary_argument(arg);
  return Json(std::string(arg));
}

Json auto_argument(std::string_view arg, size_t max_depth) {
  if (!is_valid_utf8(arg)) return binary_argument(arg);
  if (may_be_json(arg)) {
    Json value;
    if (parse_json_text(arg, max_depth, value) && !(value.is_number_float() && is_integer_literal(arg))) return value;
  }
  return Json(std::string(arg));
}

DecodeStatus build_request(std::string_view name, std::span<const std::string_view> argv, RespArgs resp_args,
                           size_t max_depth, Request& request, Response& reply) {
  if (name == "call") {
    if (argv.size() < 2 || argv.size() > 3 || argv[1].empty()) {
      reply.set_error(ErrorCode::kBadRequest, "wrong number of arguments for 'call': CALL <method> [<json params>]");
      return DecodeStatus::kAnswered;
    }
    Json params;
    if (argv.size() == 3 && !parse_json_text(argv[2], max_depth, params)) {
      reply.set_error(ErrorCode::kBadRequest, "invalid JSON params for 'call' (or nested deeper than " +
                                                  std::to_string(max_depth) + " levels)");
      return DecodeStatus::kAnswered;
    }
    request.method.assign(argv[1]);
    request.params = std::move(params);
    return DecodeStatus::kRequest;
  }

  request.method.assign(name);
  request.params = params_from_arguments(argv.subspan(1), resp_args, max_depth);
  return DecodeStatus::kRequest;
}

Json params_from_arguments(std::span<const std::string_view> args, RespArgs resp_args, size_t max_depth) {
  if (args.empty()) return nullptr;  // no JSON work for PING
  auto value = [&](std::string_view arg) {
    return resp_args == RespArgs::kStrings ? string_argument(arg) : auto_argument(arg, max_depth);
  };
  if (args.size() == 1) return value(args[0]);
  Json array = Json::array();
  array.get_ref<Json::array_t&>().reserve(args.size());
  for (std::string_view arg : args) array.push_back(value(arg));
  return array;
}

}  // namespace rpcgate::codec::resp
