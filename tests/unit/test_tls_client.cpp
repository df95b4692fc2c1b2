// The client role of the TLS engine (tls/), as upstream connections use it: a cluster's context
// (its CA or none, its client certificate, the codec's ALPN) against a listener's server engine,
// the server name checked (a DNS name or an address), each failure told with its kind and
// OpenSSL's reason, and the context's load errors. Certificates are made with the openssl
// command line (tests/support/tls_conversation.h).
#include <doctest/doctest.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/tls_conversation.h"
#include "tls/client_context.h"
#include "tls/tls_context.h"
#include "tls/tls_engine.h"

using rpcgate::tls::ClientContext;
using rpcgate::tls::ClientSettings;
using namespace tls_test;

namespace {

std::shared_ptr<ServerContext> server_context(const ServerSettings& settings = server_settings()) {
  return built(settings);
}

ClientSettings client_settings(const char* ca = "ca.pem") {
  ClientSettings settings;
  settings.ca = certificates().path(ca);
  return settings;
}

std::shared_ptr<ClientContext> client_context(const ClientSettings& settings, std::string_view alpn = {}) {
  std::string error;
  auto context = ClientContext::build(settings, alpn, error);
  REQUIRE_MESSAGE(context != nullptr, error);
  return context;
}

// An upstream connection's engine expecting `server_name`, and the server it talks to.
struct Upstream {
  std::shared_ptr<ClientContext> client_context;
  std::shared_ptr<ServerContext> server_context;
  Side client;
  Side server;
  Upstream(std::shared_ptr<ClientContext> client_side, std::shared_ptr<ServerContext> server_side,
           const std::string& server_name = "localhost")
      : client_context(std::move(client_side)),
        server_context(std::move(server_side)),
        client(client_context->get(), TlsEngine::Role::kClient),
        server(server_context->get(), TlsEngine::Role::kServer) {
    REQUIRE(client.engine.expect_server_name(server_name));
    REQUIRE(client.engine.start() == TlsStatus::kOk);
    converse(client, server);
  }
};

}  // namespace

TEST_CASE("an upstream whose certificate verifies against the cluster's CA, by DNS name or by address") {
  for (const char* name : {"localhost", "127.0.0.1"}) {
    CAPTURE(name);
    Upstream upstream(client_context(client_settings()), server_context(), name);
    REQUIRE(upstream.client.engine.established());
    REQUIRE(upstream.server.engine.established());
    std::string wire;
    REQUIRE(upstream.client.engine.seal("*1\r\n$4\r\nPING\r\n", wire) == TlsStatus::kOk);
    CHECK(upstream.server.engine.feed(wire, upstream.server.received) == TlsStatus::kOk);
    CHECK(upstream.server.received == "*1\r\n$4\r\nPING\r\n");
  }
}

TEST_CASE("a certificate from another CA fails with the verification's own reason") {
  Upstream upstream(client_context(client_settings("other.pem")), server_context());
  CHECK(upstream.client.status == TlsStatus::kFailed);
  CHECK(upstream.client.engine.failure() == TlsFailure::kVerify);
  CHECK(upstream.client.engine.error().find("certificate verify failed: unable to get local issuer certificate") !=
        std::string::npos);
  CHECK(upstream.client.received.empty());
}

TEST_CASE("a server name the certificate does not carry fails verification") {
  SUBCASE("a DNS name") {
    Upstream upstream(client_context(client_settings()), server_context(), "redis.example.com");
    CHECK(upstream.client.status == TlsStatus::kFailed);
    CHECK(upstream.client.engine.failure() == TlsFailure::kVerify);
    CHECK(upstream.client.engine.error().find("hostname mismatch") != std::string::npos);
  }
  SUBCASE("an address") {
    Upstream upstream(client_context(client_settings()), server_context(), "127.0.0.2");
    CHECK(upstream.client.status == TlsStatus::kFailed);
    CHECK(upstream.client.engine.error().find("IP address mismatch") != std::string::npos);
  }
}

TEST_CASE("verify: false accepts any certificate and any name") {
  ClientSettings settings = client_settings("other.pem");
  settings.verify = false;
  Upstream upstream(client_context(settings), server_context(), "redis.example.com");
  CHECK(upstream.client.status == TlsStatus::kOk);
  CHECK(upstream.client.engine.established());
}

TEST_CASE("a DNS name is sent as SNI; an address is not") {
  // A server of OpenSSL's own that notes the name the client asked for.
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  REQUIRE(SSL_CTX_use_certificate_chain_file(raw, certificates().path("server.pem").c_str()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey_file(raw, certificates().path("server.key").c_str(), SSL_FILETYPE_PEM) == 1);
  static std::string asked;
  SSL_CTX_set_tlsext_servername_callback(
      raw, +[](SSL* ssl, int*, void*) {
        const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        asked = name != nullptr ? name : "(none)";
        return SSL_TLSEXT_ERR_OK;
      });
  auto client = client_context(client_settings());
  for (const char* name : {"localhost", "127.0.0.1"}) {
    asked.clear();
    Side client_side(client->get(), TlsEngine::Role::kClient);
    Side server_side(raw, TlsEngine::Role::kServer);
    REQUIRE(client_side.engine.expect_server_name(name));
    REQUIRE(client_side.engine.start() == TlsStatus::kOk);
    converse(client_side, server_side);
    CHECK(client_side.engine.established());
    CHECK(asked == (std::string(name) == "localhost" ? "localhost" : "(none)"));
  }
  SSL_CTX_free(raw);
}

TEST_CASE("mutual TLS: the cluster's client certificate is accepted, none is refused") {
  ServerSettings mutual = server_settings();
  mutual.client_ca = certificates().path("ca.pem");
  mutual.require_client_cert = true;
  auto server = server_context(mutual);
  {
    ClientSettings settings = client_settings();
    settings.cert = certificates().path("client.pem");
    settings.key = certificates().path("client.key");
    Upstream upstream(client_context(settings), server);
    CHECK(upstream.client.engine.established());
    CHECK(upstream.server.engine.established());
  }
  {
    // TLS 1.3: the client's handshake ends before the server has judged it; the server's alert
    // comes with the next read, and says the certificate was the reason.
    Upstream upstream(client_context(client_settings()), server);
    CHECK(upstream.server.status == TlsStatus::kFailed);
    CHECK(upstream.server.engine.failure() == TlsFailure::kVerify);
    carry(upstream.server, upstream.client, 1u << 20);
    CHECK(upstream.client.status == TlsStatus::kFailed);
    CHECK(upstream.client.engine.failure() == TlsFailure::kVerify);
    CHECK(upstream.client.received.empty());
  }
}

TEST_CASE("ALPN h2 offered: chosen by a server that has it, an alert from one that has another") {
  ServerSettings h2 = server_settings();
  h2.alpn = {"h2"};
  auto client = client_context(client_settings(), "h2");
  CHECK(client->alpn() == "h2");
  {
    Upstream upstream(client, server_context(h2));
    REQUIRE(upstream.client.engine.established());
    CHECK(upstream.client.engine.alpn() == "h2");
  }
  {
    // A server that ignores ALPN: the handshake succeeds with none chosen; the connection's
    // owner, who asked for h2, fails it.
    Upstream upstream(client, server_context());
    REQUIRE(upstream.client.engine.established());
    CHECK(upstream.client.engine.alpn().empty());
  }
  {
    ServerSettings other = server_settings();
    other.alpn = {"http/1.1"};
    Upstream upstream(client, server_context(other));
    CHECK(upstream.server.engine.failure() == TlsFailure::kAlpn);
    CHECK(upstream.client.status == TlsStatus::kFailed);
    CHECK(upstream.client.engine.failure() == TlsFailure::kAlpn);
  }
}

TEST_CASE("garbage instead of a ServerHello fails the session as a protocol error, giving out nothing") {
  auto client = client_context(client_settings());
  // A Redis answer in clear text, and a handshake record holding a message of a type that does not exist.
  const std::string garbage_cases[] = {"-ERR unknown command\r\n",
                                       std::string("\x16\x03\x03\x00\x04\xfe\x00\x00\x00", 9)};
  for (const std::string& garbage : garbage_cases) {
    CAPTURE(garbage);
    TlsEngine engine(client->get(), TlsEngine::Role::kClient);
    REQUIRE(engine.expect_server_name("localhost"));
    REQUIRE(engine.start() == TlsStatus::kOk);
    std::string hello, plaintext;
    engine.take_output(hello);
    CHECK(hello.size() > 100);
    CHECK(engine.feed(garbage, plaintext) == TlsStatus::kFailed);
    CHECK(engine.failure() == TlsFailure::kProtocol);
    CHECK(engine.error().find("handshake: ") == 0);
    CHECK(plaintext.empty());
  }
}

TEST_CASE("the cluster's context names the file and the reason when it cannot be built") {
  std::string error;
  ClientSettings missing = client_settings("nowhere.pem");
  CHECK(ClientContext::build(missing, "", error) == nullptr);
  CHECK(error.find("ca " + missing.ca + ": cannot load: ") == 0);

  ClientSettings mismatched = client_settings();
  mismatched.cert = certificates().path("client.pem");
  mismatched.key = certificates().path("server.key");
  CHECK(ClientContext::build(mismatched, "", error) == nullptr);
  CHECK(error == "key " + mismatched.key + ": does not match cert " + mismatched.cert);

  const std::string shared_key = certificates().path("client-shared.key");
  std::filesystem::copy_file(certificates().path("client.key"), shared_key);
  chmod(shared_key.c_str(), 0644);
  ClientSettings readable = client_settings();
  readable.cert = certificates().path("client.pem");
  readable.key = shared_key;
  CHECK(ClientContext::build(readable, "", error) == nullptr);
  CHECK(error == "key " + shared_key + ": readable by others (mode 0644); chmod o-rwx it");
}

TEST_CASE("the files a context loaded, with the earliest expiry in each") {
  ClientSettings settings = client_settings();
  settings.cert = certificates().path("client.pem");
  settings.key = certificates().path("client.key");
  auto client = client_context(settings);
  REQUIRE(client->files().size() == 2);
  CHECK(client->files()[0].role == "ca");
  CHECK(client->files()[0].path == settings.ca);
  CHECK(client->files()[1].role == "cert");
  const auto now = static_cast<int64_t>(time(nullptr));
  for (const auto& file : client->files()) {
    CHECK(file.expires_unix > now + 86400);  // made for two days
    CHECK(file.expires_unix <= now + 2 * 86400 + 60);
  }
  ClientSettings system_store;
  CHECK(client_context(system_store)->files().empty());
  CHECK(server_context()->files().size() == 1);
}
