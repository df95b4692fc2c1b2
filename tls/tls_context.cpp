#include "tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace rpcgate::tls {

std::string openssl_reason() {
  // The oldest error is the cause ("No such file or directory", "no start line"); those after it
  // are the layers it went through ("system lib", "PEM lib").
  unsigned long code = ERR_peek_error();
  std::string reason = "unknown OpenSSL error";
  if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    reason = text;
  }
  ERR_clear_error();
  return reason;
}

namespace {

int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                unsigned int offered_length, void* arg) {
  const auto* self = static_cast<const ServerContext*>(arg);
  const std::string& ours = self->alpn_wire();
  unsigned char* chosen = nullptr;
  // Our order wins: the server's list is the first argument.
  if (SSL_select_next_proto(&chosen, out_length, reinterpret_cast<const unsigned char*>(ours.data()),
                            static_cast<unsigned int>(ours.size()), offered, offered_length) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // RFC 7301: no_application_protocol
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// OpenSSL's default would ask for a passphrase on the terminal, and a daemon has none to give:
// an encrypted key fails to load instead.
int no_passphrase(char*, int, int, void*) { return 0; }

// A private key others can read is a key others may have copied.
bool key_is_private(const std::string& path, std::string& error) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    error = "key " + path + ": " + std::strerror(errno);
    return false;
  }
  if ((info.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    error = "key " + path + ": readable by others (mode " + mode + "); chmod o-rwx it";
    return false;
  }
  return true;
}

}  // namespace

ServerContext::~ServerContext() { SSL_CTX_free(context_); }

std::shared_ptr<ServerContext> ServerContext::build(const ServerSettings& settings, std::string& error) {
  ERR_clear_error();
  std::shared_ptr<ServerContext> self(new ServerContext());
  self->context_ = SSL_CTX_new(TLS_server_method());
  SSL_CTX* context = self->context_;
  if (context == nullptr) {
    error = "cannot create a TLS context: " + openssl_reason();
    return nullptr;
  }
  // Renegotiation lets a client make the server redo a handshake at will: work for nothing, and
  // the source of past attacks. Compression is off by default in OpenSSL 3 (CRIME).
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_min_proto_version(context, settings.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  // Records are sealed from one buffer that the caller keeps until sealed; a partial write
  // never happens on a memory BIO, and a moving buffer is fine.
  SSL_CTX_set_mode(context, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(context, settings.cert.c_str()) != 1) {
    error = "cert " + settings.cert + ": cannot load: " + openssl_reason();
    return nullptr;
  }
  if (!key_is_private(settings.key, error)) return nullptr;
  // Read apart from the context, so that a key of another certificate is told as such and not
  // as a load failure.
  EVP_PKEY* key = nullptr;
  if (BIO* file = BIO_new_file(settings.key.c_str(), "r"); file != nullptr) {
    key = PEM_read_bio_PrivateKey(file, nullptr, no_passphrase, nullptr);
    BIO_free(file);
  }
  if (key == nullptr) {
    error = "key " + settings.key + ": cannot load (expected an unencrypted PEM private key): " + openssl_reason();
    return nullptr;
  }
  const bool matches = X509_check_private_key(SSL_CTX_get0_certificate(context), key) == 1;
  const bool used = matches && SSL_CTX_use_PrivateKey(context, key) == 1;
  EVP_PKEY_free(key);  // the context holds its own reference
  if (!matches) {
    ERR_clear_error();
    error = "key " + settings.key + ": does not match cert " + settings.cert;
    return nullptr;
  }
  if (!used) {
    error = "key " + settings.key + ": cannot use: " + openssl_reason();
    return nullptr;
  }
  X509* certificate = SSL_CTX_get0_certificate(context);
  if (certificate != nullptr && X509_cmp_current_time(X509_get0_notAfter(certificate)) <= 0) {
    error = "cert " + settings.cert + ": has expired";
    return nullptr;
  }
  if (!settings.ciphers.empty() && SSL_CTX_set_cipher_list(context, settings.ciphers.c_str()) != 1) {
    error = "ciphers '" + settings.ciphers + "': " + openssl_reason();
    return nullptr;
  }
  if (!settings.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(context, settings.client_ca.c_str(), nullptr) != 1) {
      error = "client_ca " + settings.client_ca + ": cannot load: " + openssl_reason();
      return nullptr;
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings.client_ca.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(context, names);  // the context owns it
    int mode = SSL_VERIFY_PEER;
    if (settings.require_client_cert) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(context, mode, nullptr);
  }
  for (const auto& protocol : settings.alpn) {
    self->alpn_wire_ += static_cast<char>(protocol.size());
    self->alpn_wire_ += protocol;
  }
  if (!self->alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(context, select_alpn, self.get());
  ERR_clear_error();
  return self;
}

}  // namespace rpcgate::tls
