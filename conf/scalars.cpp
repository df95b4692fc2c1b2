// Parsing and printing of durations, byte sizes and addresses (see scalars.h for the syntax).
#include "conf/scalars.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <limits>

namespace rpcgate::conf {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads a run of decimal digits at `text[i]` into `value`; false when there is none or it
// overflows.
bool read_digits(std::string_view text, size_t& i, uint64_t& value) {
  const size_t start = i;
  value = 0;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    if (__builtin_mul_overflow(value, uint64_t{10}, &value) ||
        __builtin_add_overflow(value, uint64_t(text[i] - '0'), &value))
      return false;
  }
  return i > start;
}

struct Unit {
  std::string_view name;
  uint64_t factor;
};

// "ms" before "m" so that the longer unit wins.
constexpr std::array<Unit, 4> kDurationUnits = {{{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}};

constexpr std::array<Unit, 5> kSizeUnits = {
    {{"TiB", uint64_t{1} << 40}, {"GiB", 1u << 30}, {"MiB", 1u << 20}, {"KiB", 1u << 10}, {"B", 1}}};

// A fraction finer than this many decimal digits cannot be a whole number of milliseconds of any
// unit we have, and it keeps `fraction * factor` far from overflowing.
constexpr uint64_t kMaxFractionScale = 1'000'000'000;

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  if (text == "0") return Duration{0};
  if (text.empty()) return std::nullopt;
  uint64_t total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    uint64_t whole = 0;
    if (!read_digits(text, i, whole)) return std::nullopt;
    uint64_t fraction = 0;
    uint64_t scale = 1;
    if (i < text.size() && text[i] == '.') {
      ++i;
      const size_t start = i;
      for (; i < text.size() && is_digit(text[i]); ++i) {
        if (scale >= kMaxFractionScale) return std::nullopt;
        fraction = fraction * 10 + uint64_t(text[i] - '0');
        scale *= 10;
      }
      if (i == start) return std::nullopt;
    }
    const Unit* unit = nullptr;
    for (const auto& candidate : kDurationUnits) {
      if (text.substr(i).starts_with(candidate.name)) {
        unit = &candidate;
        break;
      }
    }
    if (unit == nullptr) return std::nullopt;
    i += unit->name.size();
    uint64_t part = 0;
    if (__builtin_mul_overflow(whole, unit->factor, &part)) return std::nullopt;
    const uint64_t fraction_ms = fraction * unit->factor;  // < 1e9 * 3.6e6: no overflow
    if (fraction_ms % scale != 0) return std::nullopt;     // finer than a millisecond
    if (__builtin_add_overflow(part, fraction_ms / scale, &part) || __builtin_add_overflow(total_ms, part, &total_ms))
      return std::nullopt;
  }
  if (total_ms > uint64_t(std::numeric_limits<Duration::rep>::max())) return std::nullopt;
  return Duration{Duration::rep(total_ms)};
}

std::optional<size_t> parse_size(std::string_view text) {
  size_t i = 0;
  uint64_t number = 0;
  if (!read_digits(text, i, number)) return std::nullopt;
  if (i == text.size()) return size_t(number);
  while (i < text.size() && text[i] == ' ') ++i;
  const std::string_view unit = text.substr(i);
  for (const auto& candidate : kSizeUnits) {
    if (unit != candidate.name) continue;
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(number, candidate.factor, &bytes) || bytes > std::numeric_limits<size_t>::max())
      return std::nullopt;
    return size_t(bytes);
  }
  return std::nullopt;
}

std::optional<Address> parse_address(std::string_view text, std::string* problem) {
  auto fail = [&](std::string why) -> std::optional<Address> {
    if (problem != nullptr) *problem = std::move(why);
    return std::nullopt;
  };
  if (text.empty()) return fail("expected HOST:PORT");
  std::string host;
  std::string_view rest;
  int family = AF_INET;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after the IPv6 address");
    host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
    family = AF_INET6;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("missing ':PORT'");
    host = std::string(text.substr(0, colon));
    rest = text.substr(colon);
    if (host.find(':') != std::string::npos) return fail("an IPv6 address needs brackets, as in [::1]:6380");
  }
  if (rest.empty() || rest.front() != ':') return fail("missing ':PORT'");
  rest.remove_prefix(1);

  std::array<unsigned char, sizeof(in6_addr)> binary{};
  if (host.empty()) return fail("missing host (write 0.0.0.0 for every IPv4 interface)");
  if (inet_pton(family, host.c_str(), binary.data()) != 1) {
    if (family == AF_INET6) return fail("'" + host + "' is not an IPv6 address");
    bool has_letter = false;
    for (char c : host) has_letter |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (has_letter) return fail("'" + host + "' is a host name; write an IP address (names are not resolved)");
    return fail("'" + host + "' is not an IPv4 address");
  }
  std::array<char, INET6_ADDRSTRLEN> canonical{};
  inet_ntop(family, binary.data(), canonical.data(), canonical.size());

  size_t i = 0;
  uint64_t port = 0;
  if (!read_digits(rest, i, port) || i != rest.size() || port == 0 || port > 65535)
    return fail("port '" + std::string(rest) + "' is not a number from 1 to 65535");
  return Address{canonical.data(), uint16_t(port)};
}

std::string format_duration(Duration duration) {
  const auto ms = duration.count();
  if (ms == 0) return "0";
  for (auto it = kDurationUnits.rbegin(); it != kDurationUnits.rend(); ++it) {
    const auto factor = Duration::rep(it->factor);
    if (ms % factor == 0) return std::to_string(ms / factor) + std::string(it->name);
  }
  return std::to_string(ms) + "ms";
}

std::string format_size(size_t bytes) {
  if (bytes == 0) return "0";
  for (const auto& unit : kSizeUnits) {
    if (unit.factor > 1 && bytes % unit.factor == 0)
      return std::to_string(bytes / unit.factor) + std::string(unit.name);
  }
  return std::to_string(bytes);
}

}  // namespace rpcgate::conf
