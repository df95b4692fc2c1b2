// The value syntaxes of the config file beyond plain YAML: durations (`250ms`, `1m30s`), byte sizes
// (`64KiB`, `16MiB`) and addresses (`127.0.0.1:6380`, `[::1]:6380`). Usable on their own, e.g. by
// flags.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "conf/config.h"

namespace rpcgate::conf {

// `0`, or one or more NUMBER UNIT parts with UNIT one of ms, s, m, h and NUMBER a decimal that may
// have a fraction (`1.5s`, `1m30s`). The total must be a whole number of milliseconds and fit.
// nullopt for anything else: no sign, no spaces, no bare number other than 0.
std::optional<Duration> parse_duration(std::string_view text);

// A whole number of bytes, optionally followed by a binary unit B, KiB, MiB, GiB or TiB (spaces
// between number and unit allowed). Decimal units (KB, MB, GB) are refused: operators use them
// for both powers of 10 and of 2, and a limit must not be off by 5%. nullopt on overflow.
std::optional<size_t> parse_size(std::string_view text);

// HOST:PORT with HOST an IPv4 literal or a bracketed IPv6 literal and PORT from 1 to 65535. Host
// names are refused (nothing is resolved at start-up). The host is stored in canonical form. On
// failure, `problem` (when given) receives why, worded to follow "bad address 'x': ".
std::optional<Address> parse_address(std::string_view text, std::string* problem = nullptr);

// The inverse of parse_duration/parse_size with the largest unit that is exact: "10s", "250ms",
// "0"; "16MiB", "1000". For messages and documentation.
std::string format_duration(Duration duration);
std::string format_size(size_t bytes);

}  // namespace rpcgate::conf
