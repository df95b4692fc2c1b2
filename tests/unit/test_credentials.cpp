// Logins: the credential check, and the RESP codec's gate (NOAUTH before a login, WRONGPASS for a
// wrong one, and everything served after a good one), as Redis 6 answers them.
#include <doctest/doctest.h>

#include "codecs/codec.h"
#include "codecs/credentials.h"

using namespace rpcgate;
using namespace rpcgate::codec;

TEST_CASE("a login matches a user and its password exactly") {
  Credentials users;
  users.add("alice", "wonderland");
  users.add(std::string(kDefaultUser), "pw");
  CHECK(users.check("alice", "wonderland"));
  CHECK(users.check("default", "pw"));
  CHECK_FALSE(users.check("alice", "wonderlan"));
  CHECK_FALSE(users.check("alice", "wonderlandx"));
  CHECK_FALSE(users.check("alice", ""));
  CHECK_FALSE(users.check("bob", "wonderland"));
  CHECK_FALSE(users.check("default", "wonderland"));
  CHECK_FALSE(users.check("", ""));
  CHECK_FALSE(Credentials().check("alice", "wonderland"));
}

namespace {

struct Exchange {
  DecodeStatus status;
  std::string wire;
  bool login_failed;
};

Exchange send(ServerCodec& codec, std::string_view frame) {
  Request request;
  Response reply;
  DecodeResult result = codec.decode(frame, request, reply);
  Exchange out{result.status, "", reply.login_failed};
  if (result.status == DecodeStatus::kAnswered) codec.encode(reply, out.wire);
  return out;
}

}  // namespace

TEST_CASE("RESP: only AUTH, HELLO and QUIT before the login; WRONGPASS counted; then served") {
  Credentials users;
  users.add("alice", "wonderland");
  users.add(std::string(kDefaultUser), "pw");
  CodecOptions options;
  options.credentials = &users;
  auto codec = find_codec("resp")->make_server(options);
  REQUIRE(codec->enforces_login());

  CHECK(send(*codec, "*1\r\n$4\r\nPING\r\n").wire == "-NOAUTH Authentication required.\r\n");
  CHECK(send(*codec, "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n").wire.starts_with("-NOAUTH HELLO must be called"));
  Exchange wrong = send(*codec, "*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$4\r\nnope\r\n");
  CHECK(wrong.wire == "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  CHECK(wrong.login_failed);
  CHECK(send(*codec, "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n").wire == "+OK\r\n");
  CHECK(send(*codec, "*1\r\n$4\r\nPING\r\n").status == DecodeStatus::kRequest);

  auto fresh = find_codec("resp")->make_server(options);
  CHECK(send(*fresh, "*5\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$10\r\nwonderland\r\n")
            .wire.starts_with("*14\r\n"));
  CHECK(send(*fresh, "*1\r\n$4\r\nPING\r\n").status == DecodeStatus::kRequest);

  auto open = find_codec("resp")->make_server(CodecOptions{});
  CHECK(send(*open, "*2\r\n$4\r\nAUTH\r\n$8\r\nanything\r\n").wire == "+OK\r\n");  // no users: ignored
  CHECK(send(*open, "*1\r\n$4\r\nPING\r\n").status == DecodeStatus::kRequest);
}
