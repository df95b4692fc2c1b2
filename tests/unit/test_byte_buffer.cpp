// ByteBuffer: the partial-frame store of a connection.
#include <doctest/doctest.h>

#include <string>

#include "core/byte_buffer.h"

using rpcgate::ByteBuffer;

TEST_CASE("append, consume and keep contents across growth") {
  ByteBuffer buffer;
  CHECK(buffer.empty());
  std::string expected;
  for (int round = 0; round < 200; ++round) {
    std::string chunk(100 + round, static_cast<char>('a' + round % 26));
    char* tail = buffer.reserve_tail(chunk.size());
    CHECK(buffer.tail_room() >= chunk.size());
    std::copy(chunk.begin(), chunk.end(), tail);
    buffer.commit(chunk.size());
    expected += chunk;
    if (round % 3 == 0) {
      buffer.consume(50);
      expected.erase(0, 50);
    }
    REQUIRE(buffer.view() == expected);
  }
  buffer.consume(buffer.size() + 10);
  CHECK(buffer.empty());
}

TEST_CASE("assign replaces, shrink gives memory back only when mostly empty") {
  ByteBuffer buffer;
  std::string big(1 << 20, 'x');
  buffer.assign(big.data(), big.size());
  CHECK(buffer.size() == big.size());
  buffer.shrink_if_above(64 * 1024);
  CHECK(buffer.capacity() >= big.size());  // still full: kept
  buffer.assign("abc", 3);
  buffer.shrink_if_above(64 * 1024);
  CHECK(buffer.capacity() == 32 * 1024);
  CHECK(buffer.view() == "abc");
}
