// rpcgate-loadgen: parses the options, picks the codec's workload, connects, runs (a warm-up of
// SETs first for resp get), and reports. Exit status: 0 all answers right, 1 any wrong, 2 unusable.
#include <cstdio>
#include <memory>
#include <string>

#include "bench/loadgen/options.h"
#include "bench/loadgen/report.h"
#include "bench/loadgen/runner.h"
#include "bench/loadgen/workload.h"

using namespace rpcgate::loadgen;

int main(int argc, char** argv) {
  Options options;
  std::string error;
  switch (parse_options(argc, argv, options, error)) {
    case ParseOutcome::kHelp:
      std::fwrite(usage().data(), 1, usage().size(), stdout);
      return 0;
    case ParseOutcome::kError:
      std::fprintf(stderr, "rpcgate-loadgen: %s\n", error.c_str());
      return 2;
    case ParseOutcome::kRun:
      break;
  }

  std::unique_ptr<Workload> workload, warmup_workload;
  switch (options.codec) {
    case Codec::kResp:
      workload = make_resp_workload(options.command, options.key_space, options.value_size);
      if (options.command == Command::kGet)
        warmup_workload = make_resp_workload(Command::kSet, options.key_space, options.value_size);
      break;
    case Codec::kJson:
      workload = make_json_workload(options, error);
      break;
    case Codec::kProtobuf:
      workload = make_protobuf_workload();
      break;
  }
  if (!workload) {
    std::fprintf(stderr, "rpcgate-loadgen: %s\n", error.c_str());
    return 2;
  }

  uint64_t deadline = now_ns() + static_cast<uint64_t>(options.duration_s * 1e9);
  Runner runner(options);
  size_t request_bytes = workload->max_request_bytes();
  if (warmup_workload) request_bytes = std::max(request_bytes, warmup_workload->max_request_bytes());
  if (!runner.connect(request_bytes, error)) {
    std::fprintf(stderr, "rpcgate-loadgen: %s\n", error.c_str());
    return 2;
  }

  RunResult warmup, run;
  if (warmup_workload) runner.run(*warmup_workload, options.key_space, deadline, /*timed=*/false, warmup);
  if (!warmup.timed_out && warmup.errors == 0) runner.run(*workload, options.requests, deadline, /*timed=*/true, run);
  const RunResult* shown_warmup = warmup_workload ? &warmup : nullptr;
  if (options.json_output)
    print_json(options, run, shown_warmup);
  else
    print_summary(options, run, shown_warmup);
  return warmup.errors + run.errors == 0 ? 0 : 1;
}
