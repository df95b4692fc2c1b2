// EndpointHealth driven over time by hand: passive ejection (the Nth failure in a row, its
// duration doubling to max_ejection, a success or a long healthy stretch resetting), connect
// backoff (doubling from 100 ms to 5 s, refused vs timed out), active check verdicts past their
// thresholds, and each boundary at N-1 and N, just before and exactly at a deadline.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "backends/endpoint_health.h"

using namespace rpcgate;
using namespace rpcgate::backends;

namespace {

constexpr uint64_t kStart = 1'000'000;  // far from 0, so "before the start" is a real time
constexpr bool kConnected = true;
constexpr bool kNoConnection = false;

conf::OutlierConfig outlier(int failures = 3, int base_ms = 1000, int max_ms = 5000) {
  conf::OutlierConfig config;
  config.consecutive_failures = failures;
  config.base_ejection = std::chrono::milliseconds(base_ms);
  config.max_ejection = std::chrono::milliseconds(max_ms);
  return config;
}

conf::HealthCheckConfig checks(int healthy = 2, int unhealthy = 3) {
  conf::HealthCheckConfig config;
  config.method = "ping";
  config.healthy_threshold = healthy;
  config.unhealthy_threshold = unhealthy;
  return config;
}

// Fails it `n` times at `now_ms`; returns what the last failure said.
std::optional<uint64_t> fail(EndpointHealth& health, unsigned n, uint64_t now_ms) {
  std::optional<uint64_t> ejected;
  for (unsigned i = 0; i < n; ++i) ejected = health.on_failure(now_ms);
  return ejected;
}

// What a check result changed, in words doctest can print: "nothing", or its events in order.
std::string told(const EndpointHealth::CheckOutcome& outcome) {
  std::string said;
  if (outcome.ejection_lifted) said += "ejection lifted;";
  if (outcome.taken_out) said += "taken out after " + std::to_string(outcome.threshold) + ";";
  if (outcome.back_in) said += "back in after " + std::to_string(outcome.threshold) + ";";
  return said.empty() ? "nothing" : said;
}

}  // namespace

TEST_CASE("a fresh endpoint is up, connected or not") {
  EndpointHealth health(outlier(), checks());
  CHECK(health.usable(kStart, kConnected));
  CHECK(health.usable(kStart, kNoConnection));
  CHECK(health.state(kStart, kNoConnection) == std::string("up"));
  CHECK(health.next_connect_ms() == 0);
  CHECK(health.last_connect_error().empty());
  CHECK_FALSE(health.ejected(kStart));
  CHECK_FALSE(health.checked_down());
}

TEST_CASE("passive: N-1 failures in a row keep it usable, the Nth ejects it for base_ejection") {
  EndpointHealth health(outlier(3, 1000), checks());
  CHECK_FALSE(fail(health, 2, kStart).has_value());
  CHECK(health.usable(kStart, kConnected));

  std::optional<uint64_t> ejected = health.on_failure(kStart);
  REQUIRE(ejected.has_value());
  CHECK(*ejected == 1000);
  CHECK_FALSE(health.usable(kStart, kConnected));
  CHECK_FALSE(health.usable(kStart + 999, kConnected));
  CHECK(health.state(kStart + 999, kConnected) == std::string("ejected"));
  // Back exactly at the deadline, not a millisecond later.
  CHECK(health.usable(kStart + 1000, kConnected));
  CHECK(health.state(kStart + 1000, kConnected) == std::string("up"));
}

TEST_CASE("passive: a success resets the count of failures in a row") {
  EndpointHealth health(outlier(3), checks());
  fail(health, 2, kStart);
  health.on_success(kStart + 1);
  CHECK_FALSE(fail(health, 2, kStart + 2).has_value());
  CHECK(health.usable(kStart + 2, kConnected));
  CHECK(health.on_failure(kStart + 3).has_value());
}

TEST_CASE("passive: the count restarts after an ejection") {
  EndpointHealth health(outlier(3, 1000), checks());
  REQUIRE(fail(health, 3, kStart).has_value());
  uint64_t back = kStart + 1000;
  CHECK_FALSE(fail(health, 2, back).has_value());
  CHECK(health.usable(back, kConnected));
  CHECK(health.on_failure(back).has_value());
}

TEST_CASE("passive: each ejection doubles the last, up to max_ejection") {
  EndpointHealth health(outlier(3, 1000, 5000), checks());
  uint64_t now = kStart;
  for (uint64_t expected : {1000u, 2000u, 4000u, 5000u, 5000u}) {
    std::optional<uint64_t> ejected = fail(health, 3, now);
    REQUIRE(ejected.has_value());
    CHECK(*ejected == expected);
    now += *ejected;  // fails again the moment it is back
  }
}

TEST_CASE("passive: failures while ejected still count, so one more once back ejects it again") {
  EndpointHealth health(outlier(3, 1000), checks());
  REQUIRE(fail(health, 3, kStart).has_value());
  CHECK_FALSE(fail(health, 3, kStart + 500).has_value());  // threshold reached, but already ejected
  std::optional<uint64_t> again = health.on_failure(kStart + 1000);
  REQUIRE(again.has_value());
  CHECK(*again == 2000);
}

TEST_CASE("passive: healthy for longer than max_ejection after the last ejection, ejections start short again") {
  EndpointHealth health(outlier(3, 1000, 5000), checks());
  REQUIRE(fail(health, 3, kStart).has_value());  // 1000 ms, ends at kStart + 1000
  uint64_t end = kStart + 1000;

  SUBCASE("a success exactly max_ejection after the end keeps the growth") {
    health.on_success(end + 5000);
    CHECK(*fail(health, 3, end + 5000) == 2000);
  }
  SUBCASE("a success one millisecond later resets it") {
    health.on_success(end + 5001);
    CHECK(*fail(health, 3, end + 5001) == 1000);
  }
  SUBCASE("without a success, time alone does not reset it") { CHECK(*fail(health, 3, end + 60000) == 2000); }
}

TEST_CASE("passive: consecutive_failures 0 never ejects") {
  EndpointHealth health(outlier(0), checks());
  CHECK_FALSE(fail(health, 100, kStart).has_value());
  CHECK(health.usable(kStart, kConnected));
}

TEST_CASE("connect backoff: a refused connect holds it back, without a connection, for 100 ms") {
  EndpointHealth health(outlier(0), checks());
  CHECK_FALSE(health.on_connect_failed(kStart, false, "connection refused").has_value());
  CHECK(health.next_connect_ms() == kStart + 100);
  CHECK(health.last_connect_error() == "connection refused");
  CHECK_FALSE(health.last_connect_timed_out());

  CHECK_FALSE(health.usable(kStart + 99, kNoConnection));
  CHECK(health.state(kStart + 99, kNoConnection) == std::string("connect_backoff"));
  // Another connection (open or opening) still carries calls.
  CHECK(health.usable(kStart + 99, kConnected));
  // At the deadline it may try again; the error stays until a connect succeeds.
  CHECK(health.usable(kStart + 100, kNoConnection));
  CHECK(health.state(kStart + 100, kNoConnection) == std::string("connect_failing"));
}

TEST_CASE("connect backoff: doubles from 100 ms per failed connect, up to 5 s") {
  EndpointHealth health(outlier(0), checks());
  uint64_t now = kStart;
  for (uint64_t expected : {100u, 200u, 400u, 800u, 1600u, 3200u, 5000u, 5000u, 5000u}) {
    health.on_connect_failed(now, false, "connection refused");
    CHECK(health.next_connect_ms() - now == expected);
    now = health.next_connect_ms();
  }
}

TEST_CASE("connect backoff: after a timed-out connect calls wait for the retry; it stays usable") {
  EndpointHealth health(outlier(0), checks());
  health.on_connect_failed(kStart, true, "connect timed out");
  CHECK(health.last_connect_timed_out());
  CHECK(health.next_connect_ms() == kStart + 100);
  CHECK(health.usable(kStart, kNoConnection));
  CHECK(health.state(kStart, kNoConnection) == std::string("connect_failing"));

  // A refused one next: held back again, with the grown backoff.
  health.on_connect_failed(kStart + 100, false, "connection refused");
  CHECK_FALSE(health.last_connect_timed_out());
  CHECK(health.next_connect_ms() == kStart + 300);
  CHECK_FALSE(health.usable(kStart + 299, kNoConnection));
}

TEST_CASE("connect backoff: a successful connect clears it, and the next one starts at 100 ms") {
  EndpointHealth health(outlier(0), checks());
  for (int i = 0; i < 5; ++i) health.on_connect_failed(kStart, false, "connection refused");
  health.on_connected();
  CHECK(health.next_connect_ms() == 0);
  CHECK(health.last_connect_error().empty());
  CHECK_FALSE(health.last_connect_timed_out());
  CHECK(health.usable(kStart, kNoConnection));
  CHECK(health.state(kStart, kNoConnection) == std::string("up"));

  health.on_connect_failed(kStart + 10, false, "connection refused");
  CHECK(health.next_connect_ms() == kStart + 110);
}

TEST_CASE("connect backoff: each failed connect is also one failure toward ejection") {
  EndpointHealth health(outlier(3, 1000), checks());
  CHECK_FALSE(health.on_connect_failed(kStart, false, "refused").has_value());
  CHECK_FALSE(health.on_connect_failed(kStart, false, "refused").has_value());
  std::optional<uint64_t> ejected = health.on_connect_failed(kStart, false, "refused");
  REQUIRE(ejected.has_value());
  CHECK(*ejected == 1000);
  // Ejection outranks the backoff, and a connection does not help.
  CHECK(health.state(kStart + 500, kNoConnection) == std::string("ejected"));
  CHECK_FALSE(health.usable(kStart + 500, kConnected));
  // A connect succeeding ends the backoff, not the ejection.
  health.on_connected();
  CHECK_FALSE(health.usable(kStart + 999, kConnected));
  CHECK(health.usable(kStart + 1000, kConnected));
}

TEST_CASE("checks: unhealthy_threshold failed checks in a row take it out, healthy_threshold passes bring it back") {
  EndpointHealth health(outlier(), checks(2, 3));
  CHECK(told(health.on_check_result(kStart, false)) == "nothing");
  CHECK(told(health.on_check_result(kStart + 1, false)) == "nothing");
  CHECK(health.usable(kStart + 1, kConnected));

  CHECK(told(health.on_check_result(kStart + 2, false)) == "taken out after 3;");
  CHECK(health.checked_down());
  CHECK_FALSE(health.usable(kStart + 2, kConnected));
  CHECK(health.state(kStart + 2, kConnected) == std::string("failing_health_checks"));
  CHECK(told(health.on_check_result(kStart + 3, false)) == "nothing");  // already out

  CHECK(told(health.on_check_result(kStart + 4, true)) == "nothing");
  CHECK_FALSE(health.usable(kStart + 4, kConnected));
  CHECK(told(health.on_check_result(kStart + 5, true)) == "back in after 2;");
  CHECK_FALSE(health.checked_down());
  CHECK(health.usable(kStart + 5, kConnected));
  CHECK(told(health.on_check_result(kStart + 6, true)) == "nothing");  // already in
}

TEST_CASE("checks: a result that agrees with the verdict breaks the streak") {
  EndpointHealth health(outlier(), checks(2, 3));
  health.on_check_result(kStart, false);
  health.on_check_result(kStart, false);
  health.on_check_result(kStart, true);  // streak of failures broken
  health.on_check_result(kStart, false);
  CHECK(told(health.on_check_result(kStart, false)) == "nothing");
  CHECK(told(health.on_check_result(kStart, false)) == "taken out after 3;");

  health.on_check_result(kStart, true);
  health.on_check_result(kStart, false);  // streak of passes broken
  CHECK(told(health.on_check_result(kStart, true)) == "nothing");
  CHECK(told(health.on_check_result(kStart, true)) == "back in after 2;");
}

TEST_CASE("checks: a pass that lifts an ejection and ends a streak tells both, in that order") {
  EndpointHealth health(outlier(3, 1000), checks(1, 1));
  REQUIRE(told(health.on_check_result(kStart, false)) == "taken out after 1;");
  REQUIRE(fail(health, 3, kStart).has_value());
  CHECK(told(health.on_check_result(kStart + 10, true)) == "ejection lifted;back in after 1;");
  CHECK(health.usable(kStart + 10, kConnected));
}

TEST_CASE("checks: failing checks outrank a passive ejection and a successful connect") {
  EndpointHealth health(outlier(3, 1000), checks(2, 1));
  REQUIRE(told(health.on_check_result(kStart, false)) == "taken out after 1;");
  health.on_connected();
  health.on_success(kStart);
  CHECK_FALSE(health.usable(kStart + 100000, kConnected));
  REQUIRE(fail(health, 3, kStart).has_value());
  CHECK(health.state(kStart, kConnected) == std::string("failing_health_checks"));
}

TEST_CASE("checks: a passed check lifts a passive ejection and resets the failure count") {
  EndpointHealth health(outlier(3, 1000), checks(2, 3));
  REQUIRE(fail(health, 3, kStart).has_value());
  CHECK(told(health.on_check_result(kStart + 10, true)) == "ejection lifted;");  // never taken out by checks
  CHECK(health.usable(kStart + 10, kConnected));
  CHECK_FALSE(fail(health, 2, kStart + 10).has_value());
  // The lifted ejection still counts toward the growth of the next.
  CHECK(*health.on_failure(kStart + 10) == 2000);
}

TEST_CASE("checks: a failed check leaves a passive ejection alone, and a pass at its deadline lifts nothing") {
  EndpointHealth health(outlier(3, 1000), checks(2, 3));
  REQUIRE(fail(health, 3, kStart).has_value());
  CHECK(told(health.on_check_result(kStart + 10, false)) == "nothing");
  CHECK_FALSE(health.usable(kStart + 10, kConnected));
  CHECK(told(health.on_check_result(kStart + 999, false)) == "nothing");
  CHECK(told(health.on_check_result(kStart + 1000, true)) == "nothing");
  CHECK(health.usable(kStart + 1000, kConnected));
}
