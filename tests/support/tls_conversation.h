// For the TLS engine's tests: certificates made once per run with the openssl command line, and
// two engines talking through strings (carry, converse), each flight cut into pieces if asked.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "tls/tls_context.h"
#include "tls/tls_engine.h"

namespace tls_test {

using rpcgate::tls::ServerContext;
using rpcgate::tls::ServerSettings;
using rpcgate::tls::TlsEngine;
using rpcgate::tls::TlsFailure;
using rpcgate::tls::TlsStatus;

// A CA, a server certificate it signed for localhost and 127.0.0.1, a client certificate it
// signed, and a second CA that signed nothing here.
struct Certificates {
  std::filesystem::path dir;
  std::string path(const char* name) const { return (dir / name).string(); }

  Certificates() {
    char pattern[] = "/tmp/rpcgate-tls-unit-XXXXXX";
    dir = mkdtemp(pattern);
    const std::string d = dir.string();
    const std::string script =
        "set -e; cd " + d +
        "; exec >log 2>&1"
        "; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem"
        "  -days 2 -subj /CN=unit-ca"
        "; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem"
        "  -days 2 -subj /CN=other-ca"
        "; for who in server client; do"
        "    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $who.key -out $who.csr"
        "      -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
        ";   openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $who.pem -days 2"
        "      -copy_extensions copy"
        "; done"
        "; chmod 600 *.key";
    REQUIRE(std::system(script.c_str()) == 0);
  }
  ~Certificates() { std::filesystem::remove_all(dir); }
};

inline const Certificates& certificates() {
  static Certificates made;
  return made;
}

// A listener's settings with the server certificate, and the context built from them.
inline ServerSettings server_settings() {
  ServerSettings settings;
  settings.cert = certificates().path("server.pem");
  settings.key = certificates().path("server.key");
  return settings;
}

inline std::shared_ptr<ServerContext> built(const ServerSettings& settings) {
  std::string error;
  auto context = ServerContext::build(settings, error);
  REQUIRE_MESSAGE(context != nullptr, error);
  return context;
}

// One side of a conversation: its engine, the plaintext it received, and how it ended.
struct Side {
  TlsEngine engine;
  std::string received;
  TlsStatus status = TlsStatus::kOk;
  Side(SSL_CTX* context, TlsEngine::Role role) : engine(context, role) {}
};

// Carries what `from` has to send to `to`, `chunk` bytes per feed; true when anything moved.
inline bool carry(Side& from, Side& to, size_t chunk) {
  std::string wire;
  from.engine.take_output(wire);
  for (size_t at = 0; at < wire.size() && to.status == TlsStatus::kOk; at += chunk)
    to.status = to.engine.feed(std::string_view(wire).substr(at, chunk), to.received);
  return !wire.empty();
}

// Both ways until quiet or until one side fails.
inline void converse(Side& client, Side& server, size_t chunk = 1u << 20) {
  for (int round = 0; round < 20; ++round) {
    bool moved = carry(client, server, chunk);
    moved = carry(server, client, chunk) || moved;
    if (!moved || client.status != TlsStatus::kOk || server.status != TlsStatus::kOk) return;
  }
}

}  // namespace tls_test
