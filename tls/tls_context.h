// A listener's TLS settings and the OpenSSL context built from them: certificate, key, client CA,
// minimum version, ciphers and ALPN, loaded once per configuration generation and shared by every
// connection of the listener (and by the workers forked after it was built).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "tls/certificate_files.h"

namespace rpcgate::tls {

struct ServerSettings {
  std::string cert;       // PEM: the certificate, then its chain
  std::string key;        // PEM: the private key; must not be readable by others
  std::string client_ca;  // PEM: CAs whose client certificates are accepted ("" = none asked)
  bool require_client_cert = false;
  std::string min_version = "1.2";  // "1.2" or "1.3"
  std::string ciphers;              // TLS 1.2 cipher list in OpenSSL's syntax; "" = OpenSSL's default
  std::vector<std::string> alpn;    // protocols offered, in preference order ("h2")
};

// The versions min_version accepts.
inline constexpr std::string_view kMinVersions[] = {"1.2", "1.3"};

class ServerContext {
 public:
  // Null with `error` set ("cert /etc/rpcgate/cert.pem: cannot load: ...: no start line") when a
  // file does not load, the key does not match the certificate, the certificate has expired, or
  // the key file is readable by others.
  static std::shared_ptr<ServerContext> build(const ServerSettings& settings, std::string& error);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  SSL_CTX* get() const { return context_; }
  // The ALPN protocols in their wire form (length-prefixed), for the selection callback.
  const std::string& alpn_wire() const { return alpn_wire_; }
  // The certificate files it loaded (cert, client_ca) and their expiry, for the metrics.
  const std::vector<CertificateFile>& files() const { return files_; }

 private:
  ServerContext() = default;
  SSL_CTX* context_ = nullptr;
  std::string alpn_wire_;
  std::vector<CertificateFile> files_;
};

}  // namespace rpcgate::tls
