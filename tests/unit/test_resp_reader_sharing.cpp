// The RESP codecs of one thread share their hiredis readers (codecs/resp/hiredis_feed.cpp): a
// codec holds one only while part-way through what it was fed, and hands it back for the next.
// Many codecs decoding at once, each cut into reads at random and interleaved at random, with
// codecs that fail, and codecs destroyed part-way through a command, must each give the results
// it gives alone.
#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/resp/resp_codec.h"
#include "tests/support/codec_driver.h"
#include "tests/support/frames.h"

using namespace rpcgate;
using namespace rpcgate::codec;
using rpcgate::test::resp_command;

namespace {

// A client's stream: pipelined commands, inline ones, empty ones, and values large enough to be
// fed in several chunks and to grow a reader's buffer past what a spare may keep.
std::string server_stream(std::mt19937& random, bool end_broken) {
  std::string stream;
  for (int i = 0; i < 40; ++i) {
    switch (random() % 6) {
      case 0:
        stream += resp_command({"PING"});
        break;
      case 1:
        stream += "PING\r\n";
        break;
      case 2:
        stream += "*0\r\n";
        break;
      case 3:
        stream += resp_command({"SET", "key:" + std::to_string(i), std::string(random() % 40, 'v')});
        break;
      case 4:
        stream += resp_command({"ECHO", std::string(1 + random() % 6000, 'e')});
        break;
      default:
        stream += resp_command({"SET", "big", std::string(20000 + random() % 30000, 'b')});
        break;
    }
  }
  if (end_broken) stream += "*2\r\n$3\r\nGET\r\n:5\r\n";  // an integer where a bulk must be
  return stream;
}

std::string client_stream(std::mt19937& random) {
  std::string stream;
  for (int i = 0; i < 40; ++i) {
    switch (random() % 4) {
      case 0:
        stream += "+OK\r\n";
        break;
      case 1:
        stream += ":" + std::to_string(i) + "\r\n";
        break;
      case 2:
        stream += "*2\r\n$1\r\na\r\n:2\r\n";
        break;
      default: {
        std::string value(random() % 9000, 'r');
        stream += "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
        break;
      }
    }
  }
  return stream;
}

std::string describe(DecodeResult r, const Request& request, const Response& reply) {
  std::string line = std::to_string(static_cast<int>(r.status)) + " " + std::to_string(r.consumed);
  if (r.status == DecodeStatus::kRequest) line += " " + request.method + " " + request.params.dump();
  if (reply.is_error()) line += " error " + reply.message;
  if (!reply.status.empty()) line += " status " + reply.status;
  if (!reply.result.is_null()) line += " " + reply.result.dump().substr(0, 64);
  return line + "\n";
}

// One connection's codec, fed its stream a read at a time.
struct Peer {
  std::unique_ptr<ServerCodec> server;  // one of the two
  std::unique_ptr<ClientCodec> client;
  std::string stream;
  size_t at = 0;         // how much of the stream has been read
  std::string buffered;  // read and not consumed
  std::string transcript;
  bool done = false;

  // Decodes what is buffered until the codec needs more; false once it broke.
  bool decode_all() {
    for (;;) {
      Request request;
      Response reply;
      DecodeResult r = server ? server->decode(buffered, request, reply) : client->decode(buffered, reply);
      if (r.status == DecodeStatus::kNeedMore) return true;
      transcript += describe(r, request, reply);
      if (r.status == DecodeStatus::kBroken) return false;
      buffered.erase(0, r.consumed);
    }
  }

  void read(size_t n) {
    n = std::min(n, stream.size() - at);
    buffered.append(stream, at, n);
    at += n;
    if (!decode_all() || at == stream.size()) done = true;
  }
};

std::unique_ptr<Peer> make_peer(bool is_server, std::string stream) {
  auto peer = std::make_unique<Peer>();
  if (is_server)
    peer->server = resp::make_server_codec(CodecOptions{});
  else
    peer->client = resp::make_client_codec(CodecOptions{});
  peer->stream = std::move(stream);
  return peer;
}

// What `stream` gives when read whole by a codec of its own.
std::string alone(bool is_server, const std::string& stream) {
  auto peer = make_peer(is_server, stream);
  peer->read(stream.size());
  return peer->transcript;
}

}  // namespace

TEST_CASE("interleaved codecs on one thread each decode as they would alone") {
  for (unsigned seed = 1; seed <= 12; ++seed) {
    CAPTURE(seed);
    std::mt19937 random(seed);
    std::vector<std::unique_ptr<Peer>> peers;
    std::vector<std::string> expected;
    for (int i = 0; i < 12; ++i) {
      bool is_server = i % 4 != 3;
      std::string stream = is_server ? server_stream(random, i % 5 == 0) : client_stream(random);
      expected.push_back(alone(is_server, stream));
      peers.push_back(make_peer(is_server, std::move(stream)));
    }
    // Codecs destroyed part-way through a command: the readers they held go back to the spares
    // and must serve the others as new ones would.
    for (int i = 0; i < 6; ++i) {
      auto doomed = make_peer(true, resp_command({"SET", "k", std::string(3000, 'x')}));
      doomed->read(1 + random() % 2000);
      REQUIRE(doomed->transcript.empty());
    }
    size_t unfinished = peers.size();
    while (unfinished > 0) {
      Peer& peer = *peers[random() % peers.size()];
      if (peer.done) continue;
      size_t n = random() % 4 == 0 ? 1 + random() % 70000 : 1 + random() % 64;
      peer.read(n);
      if (peer.done) --unfinished;
      if (random() % 50 == 0) {  // a new connection takes a reader while others hold theirs
        auto passerby = make_peer(true, resp_command({"PING"}) + "PING\r\n");
        passerby->read(64);
        REQUIRE(passerby->transcript == alone(true, resp_command({"PING"}) + "PING\r\n"));
      }
    }
    for (size_t i = 0; i < peers.size(); ++i) {
      CAPTURE(i);
      CHECK(peers[i]->transcript == expected[i]);
    }
  }
}
