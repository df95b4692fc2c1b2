// libFuzzer target for the client side of the TLS engine (tls/), as a cluster's upstream
// connections run it: whatever an upstream, or whoever answers in its place, sends after our
// ClientHello. Nothing may crash or trip a sanitizer; no plaintext comes out before the handshake
// ends, nor more plaintext than ciphertext went in; a failed session says why, with a kind; what
// the engine asks to send stays small.
//
// Input layout: [chunking seed][bytes as read from the socket, cut into chunk sizes from the seed].
// No binary seed is committed: with RPCGATE_FUZZ_WRITE_SEED=DIR the target writes its seed (a
// real server's first flight, answering our ClientHello) there. Verification is off so that
// input can reach past the certificate into the records.
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "tests/support/fuzz_tls.h"
#include "tls/tls_engine.h"

using rpcgate::tls::TlsEngine;
using rpcgate::tls::TlsStatus;

namespace {

SSL_CTX* client_context() {
  static SSL_CTX* context = [] {
    SSL_CTX* made = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_options(made, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_min_proto_version(made, TLS1_2_VERSION);
    SSL_CTX_set_verify(made, SSL_VERIFY_NONE, nullptr);
    return made;
  }();
  return context;
}

void write_seed(const char* dir) {
  SSL_CTX* server_context = tls_test::make_memory_server_context();
  std::string hello, flight, ignored;
  {
    TlsEngine client(client_context(), TlsEngine::Role::kClient);
    TlsEngine server(server_context, TlsEngine::Role::kServer);
    client.start();
    client.take_output(hello);
    server.feed(hello, ignored);
    server.take_output(flight);
  }
  SSL_CTX_free(server_context);
  std::ofstream(std::string(dir) + "/server_flight", std::ios::binary) << '\x07' << flight;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("RPCGATE_FUZZ_WRITE_SEED")) {
    write_seed(dir);
    std::exit(0);
  }
  client_context();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  TlsEngine client(client_context(), TlsEngine::Role::kClient);
  if (!client.expect_server_name("localhost") || client.start() != TlsStatus::kOk) __builtin_trap();
  std::string hello;
  client.take_output(hello);
  tls_test::feed_in_pieces(client, data, size, "*1\r\n$4\r\nPING\r\n");
  return 0;
}
