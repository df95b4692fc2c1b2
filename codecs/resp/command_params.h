// Command arguments -> Request: the method name, CALL <method> [<json>], and params built from
// the arguments (docs/protocols.md, "resp": Params from arguments).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "codecs/codec.h"

namespace rpcgate::codec::resp {

// Fills `request` from `argv` (argv[0] is the command; `name` is it lower-cased), each argument
// made a value as `resp_args` says, JSON nested at most `max_depth` levels. Returns kRequest, or
// kAnswered with a BAD_REQUEST in `reply` when the arguments cannot make a request (CALL without
// a method, CALL with invalid JSON).
DecodeStatus build_request(std::string_view name, std::span<const std::string_view> argv, RespArgs resp_args,
                           size_t max_depth, Request& request, Response& reply);

// The params of a command whose arguments (after the command itself) are `args`: null for none,
// the value for one, an array for more; made values as build_request makes them.
Json params_from_arguments(std::span<const std::string_view> args, RespArgs resp_args, size_t max_depth);

// One argument as a value, `args: auto` style: JSON when it is a JSON text of at most `max_depth`
// levels (and, for a number, one JSON keeps exactly), else the string; binary when it is not
// UTF-8.
Json auto_argument(std::string_view arg, size_t max_depth);

// One argument as a string, or binary when it is not UTF-8.
Json string_argument(std::string_view arg);

// Strict JSON text of at most `max_depth` nesting levels. False (and `out` untouched) otherwise.
bool parse_json_text(std::string_view text, size_t max_depth, Json& out);

}  // namespace rpcgate::codec::resp
