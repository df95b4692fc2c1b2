// libFuzzer target for the server side of the TLS engine (tls/): bytes from anyone who can reach
// a TLS listener, before and after a handshake. Nothing may crash or trip a sanitizer; no
// plaintext comes out before the handshake ends, nor more plaintext than ciphertext went in; a
// failed session says why; what the engine asks to send stays small.
//
// Input layout: [chunking seed][bytes as read from the socket, cut into chunk sizes from the seed].
// No binary seed is committed: with RPCGATE_FUZZ_WRITE_SEED=DIR the target writes its seed (a
// real ClientHello) there. The certificate is made in memory at start-up.
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

namespace {

SSL_CTX* server_context() {
  static SSL_CTX* context = tls_test::make_memory_server_context();
  return context;
}

void write_seed(const char* dir) {
  SSL_CTX* client_context = SSL_CTX_new(TLS_client_method());
  std::string hello;
  {
    TlsEngine client(client_context, TlsEngine::Role::kClient);
    client.start();
    client.take_output(hello);
  }
  SSL_CTX_free(client_context);
  std::ofstream(std::string(dir) + "/client_hello", std::ios::binary) << '\x07' << hello;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("RPCGATE_FUZZ_WRITE_SEED")) {
    write_seed(dir);
    std::exit(0);
  }
  server_context();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  TlsEngine server(server_context(), TlsEngine::Role::kServer);
  tls_test::feed_in_pieces(server, data, size, "+PONG\r\n");
  return 0;
}
