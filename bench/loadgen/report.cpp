// Formatting a run: percentiles in microseconds, the rate, and the first wrong answer if any.
#include "bench/loadgen/report.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace rpcgate::loadgen {
namespace {

struct Figures {
  uint64_t requests, errors;
  double elapsed_s, rps, p50, p90, p99, p999, max;
  std::string first_error;
};

double us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

// The measured run, with the warm-up's errors (it has no latency worth reporting) added.
Figures figures(const RunResult& run, const RunResult* warmup) {
  const LatencyHistogram& h = run.latency;
  Figures f{run.answered,
            run.errors,
            run.elapsed_s,
            run.elapsed_s > 0 ? static_cast<double>(run.answered) / run.elapsed_s : 0.0,
            us(h.percentile_ns(0.50)),
            us(h.percentile_ns(0.90)),
            us(h.percentile_ns(0.99)),
            us(h.percentile_ns(0.999)),
            us(h.max_ns()),
            run.first_error};
  if (warmup != nullptr) {
    f.errors += warmup->errors;
    if (!warmup->first_error.empty()) f.first_error = "warm-up: " + warmup->first_error;
  }
  return f;
}

}  // namespace

std::string escaped(std::string_view bytes, size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\\' || c == '"')
      (out += '\\') += static_cast<char>(c);
    else if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else
      (out += "\\x") += std::string{kHex[c >> 4], kHex[c & 15]};
  }
  out += '"';
  if (bytes.size() > max) out += "... (" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

void print_summary(const Options& o, const RunResult& run, const RunResult* warmup) {
  Figures f = figures(run, warmup);
  std::printf("rpcgate-loadgen: %s %s to %s:%u, %u connections, pipeline %u\n", codec_name(o.codec).data(),
              command_name(o.command).data(), o.host.c_str(), o.port, o.connections, o.pipeline);
  if (warmup != nullptr)
    std::printf("warm-up     %llu SETs of keys 0..%llu, %llu errors\n",
                static_cast<unsigned long long>(warmup->answered), static_cast<unsigned long long>(o.key_space - 1),
                static_cast<unsigned long long>(warmup->errors));
  std::printf("requests    %llu of %llu answered in %.3f s%s\n", static_cast<unsigned long long>(f.requests),
              static_cast<unsigned long long>(o.requests), f.elapsed_s,
              run.timed_out ? " (stopped by --duration)" : "");
  std::printf("rate        %.0f requests/s\n", f.rps);
  std::printf("latency     p50 %.1f us, p90 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n", f.p50, f.p90, f.p99,
              f.p999, f.max);
  std::printf("errors      %llu\n", static_cast<unsigned long long>(f.errors));
  if (!f.first_error.empty()) std::printf("first error %s\n", f.first_error.c_str());
}

void print_json(const Options& o, const RunResult& run, const RunResult* warmup) {
  Figures f = figures(run, warmup);
  auto tenth = [](double value) { return static_cast<double>(static_cast<uint64_t>(value * 10 + 0.5)) / 10; };
  nlohmann::ordered_json out = {
      {"codec", codec_name(o.codec)},
      {"command", command_name(o.command)},
      {"connections", o.connections},
      {"pipeline", o.pipeline},
      {"requests", f.requests},
      {"errors", f.errors},
      {"elapsed_s", std::round(f.elapsed_s * 1e6) / 1e6},
      {"rps", tenth(f.rps)},
      {"p50_us", tenth(f.p50)},
      {"p90_us", tenth(f.p90)},
      {"p99_us", tenth(f.p99)},
      {"p999_us", tenth(f.p999)},
      {"max_us", tenth(f.max)},
      {"first_error", f.first_error.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(f.first_error)},
  };
  std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
}

}  // namespace rpcgate::loadgen
