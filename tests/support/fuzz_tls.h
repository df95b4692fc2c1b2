// For the TLS fuzz targets: a server context with a small self-signed certificate made in memory
// at start-up (no file, no openssl command line), and the one way both sides are fed: input-chosen
// pieces, with the engine's promises checked after each.
#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tls/tls_engine.h"

namespace tls_test {

inline SSL_CTX* make_memory_server_context() {
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

// A handshake flight, or a burst of alerts and tickets, with room to spare.
constexpr size_t kMaxOutputBytes = 64 * 1024;

// Input layout: [chunking seed][bytes as read from the socket, cut into chunk sizes from the seed].
// Traps when the engine gives plaintext before its handshake ends or more than the ciphertext fed,
// fails without a reason, or asks to send more than kMaxOutputBytes at once; once established, a
// sealed `message` must give records.
inline void feed_in_pieces(rpcgate::tls::TlsEngine& engine, const uint8_t* data, size_t size,
                           std::string_view message) {
  using rpcgate::tls::TlsStatus;
  if (size < 1) return;
  uint32_t state = data[0] * 2654435761u + 1;  // the chunk sizes: a small xorshift stream
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string plaintext, output;
  size_t fed = 0;
  while (!rest.empty()) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    size_t chunk = std::min<size_t>(rest.size(), 1 + state % 512);
    const bool was_established = engine.established();
    TlsStatus status = engine.feed(rest.substr(0, chunk), plaintext);
    fed += chunk;
    rest.remove_prefix(chunk);
    if (!was_established && !engine.established() && !plaintext.empty()) __builtin_trap();
    if (plaintext.size() > fed) __builtin_trap();
    output.clear();
    engine.take_output(output);
    if (output.size() > kMaxOutputBytes) __builtin_trap();
    if (status == TlsStatus::kFailed) {
      if (engine.error().empty() || rpcgate::tls::failure_name(engine.failure()).empty()) __builtin_trap();
      return;  // the connection closes here
    }
    if (status == TlsStatus::kClosed) return;
  }
  if (engine.established()) {
    output.clear();
    if (engine.seal(message, output) == TlsStatus::kOk && output.empty()) __builtin_trap();
  }
}

}  // namespace tls_test
