// Where one command argument lives: a span of the caller's input (RESP arrays, zero copy) or of
// the codec's scratch buffer (inline commands, whose quoted words need unescaping).
#pragma once

#include <cstddef>

namespace rpcgate::codec::resp {

struct ArgSpan {
  size_t offset;
  size_t length;
};

}  // namespace rpcgate::codec::resp
