// The value syntaxes of the config file: durations, byte sizes and addresses, good and bad.
#include <doctest/doctest.h>

#include <limits>

#include "conf/config_loader.h"

using namespace rpcgate::conf;
using namespace std::chrono_literals;

TEST_CASE("durations that parse") {
  const struct {
    const char* text;
    Duration expected;
  } cases[] = {
      {"0", 0ms},
      {"0ms", 0ms},
      {"0s", 0ms},
      {"1ms", 1ms},
      {"250ms", 250ms},
      {"10s", 10s},
      {"1m", 1min},
      {"1h", 1h},
      {"1.5s", 1500ms},
      {"0.25s", 250ms},
      {"1.50s", 1500ms},
      {"0.001s", 1ms},
      {"1.5m", 90s},
      {"0.5h", 30min},
      {"1m30s", 90s},
      {"1h30m", 90min},
      {"2h0m5s10ms", 2h + 5s + 10ms},
      {"007s", 7s},
      {"1.0ms", 1ms},
      {"9223372036854775807ms", Duration{std::numeric_limits<Duration::rep>::max()}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto parsed = parse_duration(c.text);
    REQUIRE(parsed.has_value());
    CHECK(*parsed == c.expected);
  }
}

TEST_CASE("durations that do not parse") {
  const char* cases[] = {
      "",
      "10",
      "-1s",
      "+1s",
      "1",
      "1.5",
      "s",
      "ms",
      "1 s",
      " 1s",
      "1s ",
      "1sec",
      "1S",
      "1d",
      "1us",
      "1ns",
      "1.s",
      ".5s",
      "1..5s",
      "0.5ms",
      "1.0001s",
      "abc",
      "1s1",
      "10 ms",
      "1e3ms",
      "0x10s",
      "1,5s",
      "∞",
      "1m-1s",
      "00",
      "9223372036854775808ms",  // one past the largest millisecond count
      "99999999999999999999s",  // the number alone overflows
      "3000000000000000h",      // the product overflows
      "0.0000000001s",          // more fraction digits than any unit can make whole
  };
  for (const char* text : cases) {
    CAPTURE(text);
    CHECK_FALSE(parse_duration(text).has_value());
  }
}

TEST_CASE("sizes that parse") {
  const struct {
    const char* text;
    size_t expected;
  } cases[] = {
      {"0", 0},
      {"1", 1},
      {"1048576", 1048576},
      {"512B", 512},
      {"64KiB", 64 * 1024},
      {"16MiB", 16u << 20},
      {"1GiB", 1u << 30},
      {"2TiB", size_t{2} << 40},
      {"16 MiB", 16u << 20},
      {"18446744073709551615", std::numeric_limits<size_t>::max()},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto parsed = parse_size(c.text);
    REQUIRE(parsed.has_value());
    CHECK(*parsed == c.expected);
  }
}

TEST_CASE("sizes that do not parse") {
  const char* cases[] = {
      "",
      "MiB",
      "-1",
      "+1",
      "1.5MiB",
      "16MB",
      "16mb",
      "16KB",
      "16kB",
      "16K",
      "16M",
      "16G",
      "16mib",
      "16kib",
      "16 ",
      " 16",
      "16 B ",
      "1e6",
      "0x10",
      "1_000",
      "lots",
      "16 MiB!",
      "18446744073709551616",  // one past the largest size_t
      "16777216TiB",           // 2^64 bytes
  };
  for (const char* text : cases) {
    CAPTURE(text);
    CHECK_FALSE(parse_size(text).has_value());
  }
}

TEST_CASE("addresses that parse, in canonical form") {
  const struct {
    const char* text;
    const char* host;
    uint16_t port;
    const char* printed;
  } cases[] = {
      {"127.0.0.1:6380", "127.0.0.1", 6380, "127.0.0.1:6380"},
      {"0.0.0.0:1", "0.0.0.0", 1, "0.0.0.0:1"},
      {"10.1.2.3:65535", "10.1.2.3", 65535, "10.1.2.3:65535"},
      {"[::1]:6380", "::1", 6380, "[::1]:6380"},
      {"[::]:80", "::", 80, "[::]:80"},
      {"[0:0::1]:80", "::1", 80, "[::1]:80"},
      {"[2001:DB8::1]:443", "2001:db8::1", 443, "[2001:db8::1]:443"},
      {"127.0.0.1:0080", "127.0.0.1", 80, "127.0.0.1:80"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto address = parse_address(c.text);
    REQUIRE(address.has_value());
    CHECK(address->host == c.host);
    CHECK(address->port == c.port);
    CHECK(address->to_string() == c.printed);
  }
}

TEST_CASE("addresses that do not parse, with the reason") {
  const struct {
    const char* text;
    const char* problem;
  } cases[] = {
      {"", "expected HOST:PORT"},
      {"127.0.0.1", "missing ':PORT'"},
      {"127.0.0.1:", "port '' is not a number"},
      {"127.0.0.1:0", "port '0' is not a number from 1 to 65535"},
      {"127.0.0.1:65536", "port '65536'"},
      {"127.0.0.1:70000", "port '70000'"},
      {"127.0.0.1:-1", "port '-1'"},
      {"127.0.0.1:80x", "port '80x'"},
      {":6380", "missing host"},
      {"localhost:6380", "'localhost' is a host name"},
      {"redis.internal:6379", "is a host name"},
      {"256.0.0.1:80", "'256.0.0.1' is not an IPv4 address"},
      {"1.2.3:80", "is not an IPv4 address"},
      {"::1:6380", "an IPv6 address needs brackets"},
      {"[::1:6380", "missing ']'"},
      {"[::1]6380", "missing ':PORT'"},
      {"[::1]", "missing ':PORT'"},
      {"[127.0.0.1]:80", "is not an IPv6 address"},
      {"[fe80::1%eth0]:80", "is not an IPv6 address"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    std::string problem;
    CHECK_FALSE(parse_address(c.text, &problem).has_value());
    CHECK(problem.find(c.problem) != std::string::npos);
  }
  CHECK_FALSE(parse_address("nope").has_value());  // the reason is optional
}

TEST_CASE("format_duration and format_size use the largest exact unit and parse back") {
  CHECK(format_duration(0ms) == "0");
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(1500ms) == "1500ms");
  CHECK(format_duration(10s) == "10s");
  CHECK(format_duration(90s) == "90s");
  CHECK(format_duration(5min) == "5m");
  CHECK(format_duration(2h) == "2h");
  CHECK(format_size(0) == "0");
  CHECK(format_size(1000) == "1000");
  CHECK(format_size(1024) == "1KiB");
  CHECK(format_size(16u << 20) == "16MiB");
  CHECK(format_size((16u << 20) + 1) == "16777217");
  CHECK(format_size(size_t{3} << 40) == "3TiB");
  for (Duration d : {Duration{0}, 1ms, 999ms, 1000ms, Duration{61s}, Duration{3600s}, Duration{86400s}})
    CHECK(parse_duration(format_duration(d)) == d);
  for (size_t n : {size_t{0}, size_t{1}, size_t{1023}, size_t{1} << 10, size_t{64} << 20})
    CHECK(parse_size(format_size(n)) == n);
}
