// The RESP listener in front of a Redis (CodecOptions::upstream): what it forwards, what it
// keeps with the client, and how it finishes the HELLO it asks in the client's stead.
#include <doctest/doctest.h>

#include <string>

#include "codecs/resp/resp_codec.h"

using rpcgate::Json;
using rpcgate::Request;
using rpcgate::Response;
using rpcgate::codec::CodecOptions;
using rpcgate::codec::DecodeStatus;
using rpcgate::codec::Pinning;

namespace {

struct Sidecar {
  explicit Sidecar(bool forward_auth = false) {
    upstream.forward_auth = forward_auth;
    CodecOptions options;
    options.upstream = &upstream;
    codec = rpcgate::codec::resp::make_server_codec(options);
    session = codec->session();
    session->set_connection_id(4242);
  }
  // Decodes one whole command; returns what would be forwarded ("" when nothing would be).
  std::string forward(const std::string& frame) {
    status = codec->decode(frame, request, reply).status;
    return std::string(codec->forward_frame(frame, request));
  }
  CodecOptions upstream;
  std::unique_ptr<rpcgate::codec::ServerCodec> codec;
  rpcgate::codec::UpstreamSession* session = nullptr;
  Request request;
  Response reply;
  DecodeStatus status = DecodeStatus::kNeedMore;
};

}  // namespace

TEST_CASE("an inline command is forwarded as the array it stands for, and classified like one") {
  Sidecar side;
  CHECK(side.forward("unsubscribe foo bar\r\n") == "*3\r\n$11\r\nunsubscribe\r\n$3\r\nfoo\r\n$3\r\nbar\r\n");
  CHECK(side.session->pinning(side.request) == Pinning::kStream);
  CHECK(side.forward("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") == "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  CHECK(side.session->pinning(side.request) == Pinning::kNone);
}

TEST_CASE("HELLO without its AUTH goes to the client's own connection; with forward_auth, with it") {
  Sidecar side;
  CHECK(side.forward("HELLO 3 AUTH default secret SETNAME app\r\n") ==
        "*4\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$7\r\nSETNAME\r\n$3\r\napp\r\n");
  CHECK(side.session->pinning(side.request) == Pinning::kLocalUnlessPinned);
  Sidecar forwarding(true);
  const std::string hello = "*5\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n";
  CHECK(forwarding.forward(hello) == hello);
  CHECK(forwarding.session->pinning(forwarding.request) == Pinning::kSession);
  CHECK(forwarding.forward("AUTH u p\r\n") == "*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n");
  CHECK(forwarding.session->pinning(forwarding.request) == Pinning::kSession);
}

TEST_CASE("HELLO is checked as Redis checks it, in Redis's words") {
  Sidecar side;
  side.forward("HELLO 4\r\n");
  REQUIRE(side.status == DecodeStatus::kAnswered);
  std::string wire;
  side.codec->encode(side.reply, wire);
  CHECK(wire == "-NOPROTO unsupported protocol version\r\n");
}

TEST_CASE("an unpinned client's HELLO asks a bare HELLO and gets its own protocol and id") {
  Sidecar side;
  side.forward("HELLO 3\r\n");
  REQUIRE(side.status == DecodeStatus::kRequest);
  Request asked = side.request;
  Response unused;
  CHECK_FALSE(side.session->answer_locally(asked, unused));
  CHECK(asked.params.is_null());  // a bare HELLO changes nothing on a shared connection
  // More HELLOs may be decoded before the answer comes: it keeps the protocol asked for.
  side.forward("HELLO 2\r\n");
  Response answer;
  answer.result = Json::array({"server", "redis", "version", "7.0.15", "proto", 2, "id", 7, "mode", "standalone",
                               "role", "master", "modules", Json::array()});
  side.session->complete(asked, answer);
  std::string wire;
  side.codec->encode(answer, wire);
  CHECK(wire.rfind("%7\r\n", 0) == 0);
  CHECK(wire.find("$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:4242\r\n") != std::string::npos);
  CHECK(wire.find("$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n") != std::string::npos);
}

TEST_CASE("with a connection of its own, HELLO and QUIT go there as they are") {
  Sidecar side;
  side.session->on_own_connection();
  CHECK(side.forward("HELLO x\r\n") == "*2\r\n$5\r\nHELLO\r\n$1\r\nx\r\n");  // Redis judges it there
  CHECK(side.status == DecodeStatus::kRequest);
  CHECK(side.forward("QUIT\r\n") == "*1\r\n$4\r\nQUIT\r\n");
  CHECK(side.status == DecodeStatus::kRequest);
  CHECK(side.reply.close_after);  // nothing it sends after QUIT is a request
}
