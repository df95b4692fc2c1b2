// libFuzzer target for the thrift codec's binary protocol (strict and lax), framed and buffered:
// the checks are tests/support/fuzz_thrift.h's. No binary seed is committed: with
// RPCGATE_FUZZ_WRITE_SEED=DIR the target writes its seeds there.
#include <cstddef>
#include <cstdint>

#include "tests/support/fuzz_thrift.h"

namespace {

using rpcgate::codec::thrift::Protocol;

// calc(...) as Python's TBinaryProtocol writes it (tests/support/thrift_peer.py gen).
constexpr const char* kCall =
    "800100010000000463616c6300000001080001ffffcfc702000201020003000a012cc00000000000000004012d400921f9f01b866e0b01"
    "2e0000000668c3a96c6c6f03012ff9060130fed40f0131080000000300000000000003e8000007d00e0132020000000201000d01330b0f"
    "00000003000000026b3004000000010000000000000000000000026b3104000000013fd5555555555555000000026b3204000000013fe5"
    "5555555555550d01340808000000000c01350c00010b00020000000464656570000000";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  rpcgate::test::fuzz::write_thrift_seeds_if_asked(Protocol::kBinary, kCall);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rpcgate::test::fuzz::check_thrift_input(Protocol::kBinary, data, size);
  return 0;
}
