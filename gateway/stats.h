// Counters of one serving process. Plain integers only, so the struct can later live in a shared
// memory slot per worker and be summed by the master.
#pragma once

#include <array>
#include <cstdint>

#include "codecs/message.h"

namespace rpcgate {

struct Stats {
  uint64_t started_unix_ms = 0;
  uint64_t connections_accepted = 0;
  uint64_t connections_active = 0;
  uint64_t connections_rejected = 0;   // over a listener's max_connections
  uint64_t connections_idle_closed = 0;
  uint64_t connections_output_overflow = 0;  // disconnected for not reading their answers
  uint64_t requests = 0;
  uint64_t protocol_errors = 0;        // framing errors: the connection was closed
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  std::array<uint64_t, 10> errors_by_code{};  // indexed by ErrorCode

  void count_error(ErrorCode code) { ++errors_by_code[static_cast<size_t>(code)]; }
};

}  // namespace rpcgate
