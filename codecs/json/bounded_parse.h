// Parsing one JSON document with a nesting bound, without exceptions and without recursion, so a
// hostile frame can neither throw across the loop nor exhaust the stack.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/message.h"

namespace rpcgate::codec::json {

// Parses `text` (the whole of it) into `out`, a frame's envelope object. Nesting is counted in
// containers inside the envelope, so it bounds what `params`/`result` may hold: `1` is 0 deep,
// `[1]` 1, `{"a": [1]}` 2. Parsing stops at the first container past `max_depth`, so nothing
// deeper is ever built. On failure returns false and sets `error` to a short reason.
bool parse_envelope(std::string_view text, size_t max_depth, Json& out, std::string& error);

}  // namespace rpcgate::codec::json
