// A steady stream of PINGs costs no heap allocation in the RESP codec (STYLE.md principle 9).
// This executable replaces the global operator new to count allocations.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "codecs/resp/resp_codec.h"

namespace {
std::atomic<size_t> g_allocations{0};
}

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using rpcgate::Request;
using rpcgate::Response;
using rpcgate::codec::DecodeResult;
using rpcgate::codec::DecodeStatus;

namespace {

// Decodes every command in `stream` as the gateway would, with request and reply objects that
// live across commands, and encodes a +PONG for each request.
size_t pump(rpcgate::codec::ServerCodec& codec, const std::string& stream, Request& request, Response& reply,
            Response& pong, std::string& out) {
  std::string_view input = stream;
  size_t requests = 0;
  for (;;) {
    DecodeResult r = codec.decode(input, request, reply);
    if (r.status != DecodeStatus::kRequest) break;
    ++requests;
    codec.encode(pong, out);
    input.remove_prefix(r.consumed);
  }
  return requests;
}

}  // namespace

TEST_CASE("the allocation counter sees allocations") {
  size_t before = g_allocations.load();
  auto* text = new std::string(100, 'x');
  delete text;
  CHECK(g_allocations.load() - before == 2);  // the string object and its buffer
}

TEST_CASE("PING, pipelined or inline, allocates nothing in steady state") {
  auto codec = rpcgate::codec::resp::make_server_codec({});
  std::string stream;
  for (int i = 0; i < 200; ++i) stream += (i % 3 == 0) ? "PING\r\n" : "*1\r\n$4\r\nPING\r\n";
  Request request;
  Response reply;
  Response pong;
  pong.status = "PONG";
  std::string out;
  out.reserve(200 * 7);

  // Warm up: buffers reach their working size.
  CHECK(pump(*codec, stream, request, reply, pong, out) == 200);
  out.clear();

  size_t before = g_allocations.load();
  size_t requests = 0;
  for (int round = 0; round < 10; ++round) {
    requests += pump(*codec, stream, request, reply, pong, out);
    out.clear();
  }
  size_t allocations = g_allocations.load() - before;
  CHECK(requests == 2000);
  CHECK(request.method == "ping");
  CHECK(allocations == 0);
}
