// libFuzzer target for the server side of the TLS engine (tls/): bytes from anyone who can reach
// a TLS listener, before and after a handshake. Nothing may crash or trip a sanitizer; no
// plaintext comes out before the handshake ends, nor more plaintext than ciphertext went in; a
// failed session says why; what the engine asks to send stays small.
//
// Input layout: [chunking seed][bytes as read from the socket, cut into chunk sizes from the seed].
// No binary seed is committed: with RPCGATE_FUZZ_WRITE_SEED=DIR the target writes its seed (a
// real ClientHello) there. The certificate is made in memory at start-up.
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "tls/tls_engine.h"

using rpcgate::tls::TlsEngine;
using rpcgate::tls::TlsStatus;

namespace {

// A handshake flight with a small self-signed certificate, with room to spare.
constexpr size_t kMaxOutputBytes = 64 * 1024;

SSL_CTX* make_server_context() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* certificate = X509_new();
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate), 0);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 86400);
  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("fuzz"), -1, -1, 0);
  X509_set_issuer_name(certificate, name);
  X509_set_pubkey(certificate, key);
  X509_sign(certificate, key, EVP_sha256());
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate(context, certificate) != 1 || SSL_CTX_use_PrivateKey(context, key) != 1) std::abort();
  X509_free(certificate);
  EVP_PKEY_free(key);
  return context;
}

SSL_CTX* server_context() {
  static SSL_CTX* context = make_server_context();
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
  if (size < 1) return 0;
  uint32_t state = data[0] * 2654435761u + 1;  // the chunk sizes: a small xorshift stream
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  TlsEngine server(server_context(), TlsEngine::Role::kServer);
  std::string plaintext, output;
  size_t fed = 0;
  while (!rest.empty()) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    size_t chunk = std::min<size_t>(rest.size(), 1 + state % 512);
    const bool was_established = server.established();
    TlsStatus status = server.feed(rest.substr(0, chunk), plaintext);
    fed += chunk;
    rest.remove_prefix(chunk);
    if (!was_established && !server.established() && !plaintext.empty()) __builtin_trap();
    if (plaintext.size() > fed) __builtin_trap();
    output.clear();
    server.take_output(output);
    if (output.size() > kMaxOutputBytes) __builtin_trap();
    if (status == TlsStatus::kFailed) {
      if (server.error().empty()) __builtin_trap();
      break;  // the connection closes here
    }
    if (status == TlsStatus::kClosed) break;
  }
  if (server.established()) {
    output.clear();
    if (server.seal("+PONG\r\n", output) == TlsStatus::kOk && output.empty()) __builtin_trap();
  }
  return 0;
}
