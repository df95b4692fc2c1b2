// What the load generator prints: a summary for people, or one JSON object for scripts.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "bench/loadgen/options.h"
#include "bench/loadgen/runner.h"

namespace rpcgate::loadgen {

// `bytes` as printable ASCII in double quotes (\r \n \t \\ \" \xHH), cut after `max` bytes with
// the total length named.
std::string escaped(std::string_view bytes, size_t max);

// `warmup` is the get command's SET phase (nullptr otherwise).
void print_summary(const Options& options, const RunResult& run, const RunResult* warmup);
void print_json(const Options& options, const RunResult& run, const RunResult* warmup);

}  // namespace rpcgate::loadgen
