// The latency histograms and their readers: bucket choice, sums over workers, percentiles, and
// the Prometheus text (cumulative buckets, escaped labels, one family per name).
#include <doctest/doctest.h>

#include <set>
#include <sstream>

#include "admin/metrics.h"
#include "conf/config_loader.h"
#include "gateway/stats_json.h"

using namespace rpcgate;

TEST_CASE("a latency lands in the first bucket whose bound it does not pass") {
  LatencyHistogram h;
  h.record_ns(0);
  h.record_ns(50'000);          // exactly 50 us: le="5e-05"
  h.record_ns(50'001'000);      // 50.001 ms: le="0.1"
  h.record_ns(20'000'000'000);  // 20 s: above every bound
  CHECK(h.buckets[0].get() == 2);
  CHECK(h.buckets[10].get() == 1);
  CHECK(h.buckets[17].get() == 1);
  CHECK(h.count.get() == 4);
  CHECK(h.sum_us.get() == 50 + 50'001 + 20'000'000);
}

TEST_CASE("histograms add up over workers, and percentiles interpolate within a bucket") {
  auto table = StatsTable::create(2);
  for (int i = 0; i < 90; ++i) table->slot(0).latency_by_listener[0].record_ns(700'000);    // 0.5..1 ms
  for (int i = 0; i < 10; ++i) table->slot(1).latency_by_listener[0].record_ns(3'000'000);  // 2.5..5 ms
  HistogramTotals totals =
      table->histogram([](const Stats& s) -> const LatencyHistogram& { return s.latency_by_listener[0]; });
  CHECK(totals.count == 100);
  CHECK(totals.percentile_us(0.45) == doctest::Approx(750));   // half-way through the 500..1000 bucket
  CHECK(totals.percentile_us(0.95) == doctest::Approx(3750));  // half-way through 2500..5000
  CHECK(HistogramTotals{}.percentile_us(0.5) == 0);
}

TEST_CASE("the metrics text: cumulative buckets, totals over workers, escaped labels") {
  conf::Config config = conf::load_config_string(R"(listeners: [{name: resp, address: 127.0.0.1:6380, codec: resp}]
routes:
  - {match: {glob: "a\"b*"}, handler: ping}
clusters: [{name: c, codec: json, endpoints: [127.0.0.1:9]}]
)",
                                                 "m.yaml");
  auto table = StatsTable::create(2);
  table->slot(0).pid.set(10);
  table->slot(1).pid.set(11);
  table->slot(0).requests_by_listener[0] += 3;
  table->slot(1).requests_by_listener[0] += 4;
  table->slot(0).latency_by_route[0].record_ns(60'000);
  table->slot(1).latency_by_route[0].record_ns(60'000);
  table->slot(1).clusters[0].latency.record_ns(2'000'000);
  std::string text = render_metrics(config, *table);
  CAPTURE(text);
  CHECK(text.find("rpcgate_requests_total{listener=\"resp\",codec=\"resp\"} 7\n") != std::string::npos);
  std::string route = "route=\"0\",match=\"glob:a\\\"b*\",target=\"handler:ping\"";
  CHECK(text.find("rpcgate_route_duration_seconds_bucket{" + route + ",le=\"5e-05\"} 0\n") != std::string::npos);
  CHECK(text.find("rpcgate_route_duration_seconds_bucket{" + route + ",le=\"0.0001\"} 2\n") != std::string::npos);
  CHECK(text.find("rpcgate_route_duration_seconds_bucket{" + route + ",le=\"+Inf\"} 2\n") != std::string::npos);
  CHECK(text.find("rpcgate_route_duration_seconds_count{" + route + "} 2\n") != std::string::npos);
  CHECK(text.find("rpcgate_upstream_duration_seconds_sum{cluster=\"c\"} 0.002\n") != std::string::npos);
  CHECK(text.find("rpcgate_worker_requests_total{worker=\"1\"}") != std::string::npos);
  // Each family is declared once, before its samples.
  std::set<std::string> declared;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("# TYPE ")) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      CHECK_MESSAGE(declared.insert(name).second, name << " declared twice");
    }
  }
  CHECK(declared.count("rpcgate_zookeeper_connected") == 0);  // no zookeeper configured
}

TEST_CASE("an endpoint report reads back whole, and one too long says so") {
  auto table = StatsTable::create(1);
  EndpointReport& report = table->slot(0).endpoints;
  CHECK(report.read().empty());
  report.publish(R"({"c": {"endpoints": [], "leaving": 0}})");
  CHECK(report.read() == R"({"c": {"endpoints": [], "leaving": 0}})");
  report.publish(std::string(EndpointReport::kBytes + 1, 'x'));
  CHECK(report.read() == R"({"truncated": true})");
  table->slot(0).pid.set(1);
  CHECK(clusters_json(*table) == Json::object());  // a truncated report is skipped
}

TEST_CASE("the stats JSON carries percentiles per listener, route and cluster") {
  conf::Config config = conf::load_config_string(
      "listeners: [{name: j, address: 127.0.0.1:1, codec: json}]\n"
      "clusters: [{name: c, codec: json, endpoints: [127.0.0.1:9]}]\n",
      "s.yaml");
  auto table = StatsTable::create(1);
  table->slot(0).latency_by_listener[0].record_ns(700'000);
  Json stats = stats_json(config, *table);
  CHECK(stats["listeners"]["j"]["latency"]["count"] == 1);
  CHECK(stats["listeners"]["j"]["latency"]["p50_ms"].get<double>() == doctest::Approx(0.75));
  CHECK(stats["clusters"]["c"]["latency"]["count"] == 0);
  CHECK(!stats.contains("zookeeper"));
}
