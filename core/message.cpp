// Names of the canonical error codes, as they appear on every wire.
#include "core/message.h"

#include <array>

namespace rpcgate {
namespace {

constexpr std::array<std::string_view, 11> kErrorNames = {
    "",           "BAD_REQUEST",   "TOO_LARGE", "UNKNOWN_METHOD", "UNAVAILABLE", "TIMEOUT", "UPSTREAM_ERROR",
    "OVERLOADED", "SHUTTING_DOWN", "INTERNAL",  "NOAUTH",
};

}  // namespace

std::string_view error_code_name(ErrorCode code) {
  auto index = static_cast<size_t>(code);
  return index < kErrorNames.size() ? kErrorNames[index] : "INTERNAL";
}

std::optional<ErrorCode> error_code_from_name(std::string_view name) {
  for (size_t i = 1; i < kErrorNames.size(); ++i)
    if (kErrorNames[i] == name) return static_cast<ErrorCode>(i);
  return std::nullopt;
}

}  // namespace rpcgate
