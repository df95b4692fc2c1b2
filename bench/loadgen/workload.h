// What the load generator sends and what it accepts back: one implementation per codec. A
// workload writes requests into a connection's buffer and judges the answer at the front of its
// input, without allocating on the way when the answer is the one expected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "bench/loadgen/inflight.h"
#include "bench/loadgen/options.h"

namespace rpcgate::loadgen {

// The largest answer a workload buffers (a length prefix or a bulk above it is an error).
inline constexpr size_t kMaxFrameBytes = 16u << 20;

enum class Verdict {
  kNeedMore,  // the answer is not complete yet
  kGood,      // the expected answer
  kBad,       // a whole answer, but a wrong one: counted, and the connection goes on
  kBroken,    // the stream cannot be read any further: counted, and the connection ends
};

struct Checked {
  Verdict verdict = Verdict::kNeedMore;
  size_t consumed = 0;   // bytes of the answer (kGood, kBad)
  uint64_t id = 0;       // the request id the answer names (workloads not answered in order)
  std::string_view why;  // what was wrong (kBad, kBroken): a constant text
};

class Workload {
 public:
  virtual ~Workload() = default;

  // Room `write` may need for one request.
  virtual size_t max_request_bytes() const = 0;

  // Writes request number `sequence` (counted over the whole run) at `out`; fills in
  // `request.key` when the answer depends on it. Returns the bytes written.
  virtual size_t write(uint64_t sequence, InFlightRequest& request, char* out) = 0;

  // Judges the answer at the front of `input`. Workloads answered in request order are given
  // the oldest request in flight; the others get nullptr and name the request in `Checked::id`.
  virtual Checked check(std::string_view input, const InFlightRequest* oldest) = 0;

  virtual bool answers_in_order() const { return true; }
};

// Each returns nullptr with a one-line reason in `error` when the options cannot be served.
std::unique_ptr<Workload> make_resp_workload(Command command, uint64_t key_space, uint32_t value_size);
std::unique_ptr<Workload> make_json_workload(const Options& options, std::string& error);
std::unique_ptr<Workload> make_protobuf_workload();

}  // namespace rpcgate::loadgen
