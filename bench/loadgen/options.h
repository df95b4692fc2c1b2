// The load generator's command line: what to send, to whom, how much, and how to report it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rpcgate::loadgen {

enum class Codec { kResp, kJson, kProtobuf };
enum class Command { kPing, kSet, kGet, kPi };

struct Options {
  Codec codec = Codec::kResp;
  Command command = Command::kPing;
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: the codec's port in the shipped conf/rpcgate.yaml
  uint32_t connections = 50;
  uint32_t pipeline = 1;
  uint64_t requests = 100000;
  double duration_s = 60;
  uint64_t key_space = 10000;
  uint32_t value_size = 3;
  std::optional<std::string> params;  // JSON text; json codec only
  std::optional<std::string> out;     // the answers' "out"; json codec only
  bool json_output = false;
};

// The bounds the options are checked against (also named in --help).
inline constexpr uint32_t kMaxConnections = 10000;
inline constexpr uint32_t kMaxPipeline = 65536;
inline constexpr uint32_t kMaxValueSize = 1u << 20;
inline constexpr uint64_t kMaxKeySpace = 1'000'000'000'000;  // keys are key:NNNNNNNNNNNN
inline constexpr uint64_t kMaxOutputBytes = 256u << 20;      // all connections' request buffers
inline constexpr size_t kMaxParamsDepth = 64;                // rpcgate's own max_depth

enum class ParseOutcome { kRun, kHelp, kError };

// Fills `options` from argv. kError comes with a one-line reason in `error`.
ParseOutcome parse_options(int argc, char** argv, Options& options, std::string& error);

std::string_view usage();
std::string_view codec_name(Codec codec);
std::string_view command_name(Command command);

}  // namespace rpcgate::loadgen
