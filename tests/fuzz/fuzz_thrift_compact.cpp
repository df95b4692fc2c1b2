// libFuzzer target for the thrift codec's compact protocol, framed and buffered:
// the checks are tests/support/fuzz_thrift.h's. No binary seed is committed: with
// RPCGATE_FUZZ_WRITE_SEED=DIR the target writes its seeds there.
#include <cstddef>
#include <cstdint>

#include "tests/support/fuzz_thrift.h"

namespace {

using rpcgate::codec::thrift::Protocol;

// calc(...) as Python's TCompactProtocol writes it (tests/support/thrift_peer.py gen).
constexpr const char* kCall =
    "8221010463616c6315f1c001111206d804ffffffffffffffff7f176e861bf0f9210940180668c3a96c6c6f13f914d704193500d00fa01f1a"
    "2101021b0389026b30170000000000000000026b3117555555555555d53f026b3217555555555555e53f1b001c1c280464656570000000";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rpcgate::test::fuzz::write_thrift_seeds_if_asked(Protocol::kCompact, kCall);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rpcgate::test::fuzz::check_thrift_input(Protocol::kCompact, data, size);
  return 0;
}
