// The TLS engine alone (tls/): a client and a server engine talking through strings, the
// handshake and records cut at every byte boundary, and the listener context's load errors.
// Certificates are made by the test with the openssl command line into a temporary directory.
#include <doctest/doctest.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "tests/support/tls_conversation.h"
#include "tls/tls_context.h"
#include "tls/tls_engine.h"

using namespace tls_test;

namespace {

struct ClientContext {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  ~ClientContext() { SSL_CTX_free(context); }
};

std::unique_ptr<ClientContext> client_context(const char* ca, bool with_certificate = false,
                                              const char* alpn = nullptr) {
  auto client = std::make_unique<ClientContext>();
  REQUIRE(SSL_CTX_load_verify_locations(client->context, certificates().path(ca).c_str(), nullptr) == 1);
  SSL_CTX_set_verify(client->context, SSL_VERIFY_PEER, nullptr);
  if (with_certificate) {
    REQUIRE(SSL_CTX_use_certificate_file(client->context, certificates().path("client.pem").c_str(),
                                         SSL_FILETYPE_PEM) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(client->context, certificates().path("client.key").c_str(), SSL_FILETYPE_PEM) ==
            1);
  }
  if (alpn != nullptr) {
    std::string wire = std::string(1, static_cast<char>(std::strlen(alpn))) + alpn;
    REQUIRE(SSL_CTX_set_alpn_protos(client->context, reinterpret_cast<const unsigned char*>(wire.data()),
                                    static_cast<unsigned>(wire.size())) == 0);
  }
  return client;
}

// A client engine that has sent its ClientHello, and a server engine that has not read it yet.
struct Pair {
  std::shared_ptr<ServerContext> server_context;
  std::unique_ptr<ClientContext> client_context;
  Side client;
  Side server;
  Pair(std::shared_ptr<ServerContext> server_side, std::unique_ptr<ClientContext> client_side)
      : server_context(std::move(server_side)),
        client_context(std::move(client_side)),
        client(client_context->context, TlsEngine::Role::kClient),
        server(server_context->get(), TlsEngine::Role::kServer) {
    REQUIRE(client.engine.start() == TlsStatus::kOk);
  }
};

}  // namespace

TEST_CASE("a handshake, then plaintext both ways") {
  auto server_context = built(server_settings());
  Pair pair(server_context, client_context("ca.pem"));
  converse(pair.client, pair.server);
  REQUIRE(pair.client.engine.established());
  REQUIRE(pair.server.engine.established());

  std::string wire;
  REQUIRE(pair.client.engine.seal("*1\r\n$4\r\nPING\r\n", wire) == TlsStatus::kOk);
  CHECK(pair.server.engine.feed(wire, pair.server.received) == TlsStatus::kOk);
  CHECK(pair.server.received == "*1\r\n$4\r\nPING\r\n");
  wire.clear();
  REQUIRE(pair.server.engine.seal("+PONG\r\n", wire) == TlsStatus::kOk);
  CHECK(pair.client.engine.feed(wire, pair.client.received) == TlsStatus::kOk);
  CHECK(pair.client.received == "+PONG\r\n");

  // close_notify ends the stream for the other side.
  pair.client.engine.shutdown();
  carry(pair.client, pair.server, 1u << 20);
  CHECK(pair.server.status == TlsStatus::kClosed);
}

TEST_CASE("every transfer fed one byte at a time gives the same conversation") {
  auto server_context = built(server_settings());
  Pair pair(server_context, client_context("ca.pem"));
  converse(pair.client, pair.server, 1);
  REQUIRE(pair.server.engine.established());
  std::string message(40000, 'x');  // more than two records
  for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<char>('a' + i % 26);
  std::string wire;
  REQUIRE(pair.client.engine.seal(message, wire) == TlsStatus::kOk);
  for (char byte : wire)
    REQUIRE(pair.server.engine.feed(std::string_view(&byte, 1), pair.server.received) == TlsStatus::kOk);
  CHECK(pair.server.received == message);
}

TEST_CASE("a record cut at every byte boundary") {
  auto server_context = built(server_settings());
  Pair pair(server_context, client_context("ca.pem"));
  converse(pair.client, pair.server);
  REQUIRE(pair.server.engine.established());
  const std::string message = "{\"method\":\"echo\",\"params\":[\"hello\"]}\n";
  std::string wire;
  REQUIRE(pair.client.engine.seal(message, wire) == TlsStatus::kOk);
  const size_t record_bytes = wire.size();
  REQUIRE(pair.server.engine.feed(wire, pair.server.received) == TlsStatus::kOk);
  for (size_t cut = 0; cut <= record_bytes; ++cut) {
    wire.clear();
    REQUIRE(pair.client.engine.seal(message, wire) == TlsStatus::kOk);
    REQUIRE(wire.size() == record_bytes);
    std::string plaintext;
    REQUIRE(pair.server.engine.feed(std::string_view(wire).substr(0, cut), plaintext) == TlsStatus::kOk);
    // Nothing of a record is given out before all of it has come and been authenticated.
    CHECK(plaintext.empty() == (cut < record_bytes));
    REQUIRE(pair.server.engine.feed(std::string_view(wire).substr(cut), plaintext) == TlsStatus::kOk);
    CHECK(plaintext == message);
  }
}

TEST_CASE("the client's first flight cut at every byte boundary") {
  auto server_context = built(server_settings());
  size_t hello_bytes = 0;
  for (size_t cut = 0; cut == 0 || cut <= hello_bytes; ++cut) {
    Pair pair(server_context, client_context("ca.pem"));
    std::string hello;
    pair.client.engine.take_output(hello);
    hello_bytes = hello.size();
    REQUIRE(pair.server.engine.feed(std::string_view(hello).substr(0, cut), pair.server.received) == TlsStatus::kOk);
    REQUIRE(pair.server.engine.feed(std::string_view(hello).substr(cut), pair.server.received) == TlsStatus::kOk);
    converse(pair.client, pair.server);
    REQUIRE(pair.client.engine.established());
    REQUIRE(pair.server.engine.established());
  }
  CHECK(hello_bytes > 100);
}

TEST_CASE("garbage instead of a ClientHello fails the session with OpenSSL's reason") {
  auto server_context = built(server_settings());
  TlsEngine server(server_context->get(), TlsEngine::Role::kServer);
  std::string plaintext;
  CHECK(server.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n", plaintext) == TlsStatus::kFailed);
  CHECK(server.error().find("handshake") == 0);
  CHECK(server.error().size() > std::string("handshake: ").size());
  CHECK(server.failure() == TlsFailure::kProtocol);
  CHECK(plaintext.empty());
}

TEST_CASE("a client that trusts another CA fails the handshake") {
  auto server_context = built(server_settings());
  Pair pair(server_context, client_context("other.pem"));
  converse(pair.client, pair.server);
  CHECK(pair.client.status == TlsStatus::kFailed);
  CHECK(pair.client.engine.error().find("certificate verify failed: unable to get local issuer certificate") !=
        std::string::npos);
  CHECK(pair.client.engine.failure() == TlsFailure::kVerify);
  // Its alert reaches the server, which fails too and gives out nothing.
  carry(pair.client, pair.server, 1u << 20);
  CHECK(pair.server.status == TlsStatus::kFailed);
  CHECK(pair.server.received.empty());
}

TEST_CASE("require_client_cert refuses a client without one and accepts one signed by client_ca") {
  ServerSettings settings = server_settings();
  settings.client_ca = certificates().path("ca.pem");
  settings.require_client_cert = true;
  auto server_context = built(settings);
  {
    Pair pair(server_context, client_context("ca.pem"));
    converse(pair.client, pair.server);
    CHECK(pair.server.status == TlsStatus::kFailed);
    CHECK(!pair.server.engine.established());
    CHECK(pair.server.engine.failure() == TlsFailure::kVerify);
  }
  {
    Pair pair(server_context, client_context("ca.pem", true));
    converse(pair.client, pair.server);
    CHECK(pair.server.status == TlsStatus::kOk);
    CHECK(pair.server.engine.established());
  }
}

TEST_CASE("the identity of a verified client certificate: its CN or its first DNS SAN, none without one") {
  ServerSettings settings = server_settings();
  settings.client_ca = certificates().path("ca.pem");  // asked for, not required
  auto server_context = built(settings);
  {
    Pair pair(server_context, client_context("ca.pem", true));
    converse(pair.client, pair.server);
    REQUIRE(pair.server.engine.established());
    CHECK(pair.server.engine.peer_identity(rpcgate::tls::IdentitySource::kSubjectCn) == "localhost");
    CHECK(pair.server.engine.peer_identity(rpcgate::tls::IdentitySource::kDnsSan) == "localhost");
    CHECK(pair.server.engine.peer_identity(rpcgate::tls::IdentitySource::kEmailSan).empty());  // it has none
  }
  {
    Pair pair(server_context, client_context("ca.pem"));
    converse(pair.client, pair.server);
    REQUIRE(pair.server.engine.established());
    CHECK(pair.server.engine.peer_identity(rpcgate::tls::IdentitySource::kSubjectCn).empty());
  }
}

TEST_CASE("ALPN: the listener's protocol is chosen, and a client offering none of them is refused") {
  ServerSettings settings = server_settings();
  settings.alpn = {"h2"};
  auto server_context = built(settings);
  {
    Pair pair(server_context, client_context("ca.pem", false, "h2"));
    converse(pair.client, pair.server);
    REQUIRE(pair.server.engine.established());
    CHECK(pair.server.engine.alpn() == "h2");
    CHECK(pair.client.engine.alpn() == "h2");
  }
  {
    Pair pair(server_context, client_context("ca.pem", false, "http/1.1"));
    converse(pair.client, pair.server);
    CHECK(pair.server.status == TlsStatus::kFailed);
    CHECK(pair.server.engine.failure() == TlsFailure::kAlpn);
  }
}

TEST_CASE("the context names the file and the reason when it cannot be built") {
  std::string error;
  ServerSettings missing = server_settings();
  missing.cert = certificates().path("nowhere.pem");
  CHECK(ServerContext::build(missing, error) == nullptr);
  CHECK(error.find("cert " + missing.cert + ": cannot load: ") == 0);
  CHECK(error.find("No such file or directory") != std::string::npos);  // the cause, not "system lib"

  ServerSettings mismatched = server_settings();
  mismatched.key = certificates().path("client.key");
  CHECK(ServerContext::build(mismatched, error) == nullptr);
  CHECK(error.find("does not match cert") != std::string::npos);

  ServerSettings not_a_key = server_settings();
  not_a_key.key = certificates().path("log");
  chmod(not_a_key.key.c_str(), 0600);
  CHECK(ServerContext::build(not_a_key, error) == nullptr);
  CHECK(error.find("key " + not_a_key.key + ": cannot load (expected an unencrypted PEM private key): ") == 0);

  const std::string shared_key = certificates().path("shared.key");
  std::filesystem::copy_file(certificates().path("server.key"), shared_key);
  chmod(shared_key.c_str(), 0644);
  ServerSettings readable = server_settings();
  readable.key = shared_key;
  CHECK(ServerContext::build(readable, error) == nullptr);
  CHECK(error == "key " + shared_key + ": readable by others (mode 0644); chmod o-rwx it");

  ServerSettings bad_ciphers = server_settings();
  bad_ciphers.ciphers = "NO-SUCH-CIPHER";
  CHECK(ServerContext::build(bad_ciphers, error) == nullptr);
  CHECK(error.find("ciphers 'NO-SUCH-CIPHER': ") == 0);
}
