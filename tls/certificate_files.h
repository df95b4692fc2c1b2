// The files a TLS context reads, read alike for a listener and a cluster: a certificate and its
// key (loaded, matched, unexpired, the key private to its owner), and when the certificates in a
// file expire, for the metrics.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rpcgate::tls {

// A certificate file a context loaded, and when the first certificate in it expires.
struct CertificateFile {
  std::string role;  // the settings key that names it: "cert", "ca", "client_ca"
  std::string path;
  int64_t expires_unix = 0;  // the earliest notAfter in the file, in Unix seconds
};

// Loads `cert` (the certificate, then its chain) and `key` into `context`. False, with `error`
// naming the file and OpenSSL's reason, when either does not load, the key does not match, the
// certificate has expired, or the key file is readable by others.
bool use_certificate_and_key(SSL_CTX* context, const std::string& cert, const std::string& key, std::string& error);

// Notes `path`, loaded as `role`, in `files` with its earliest expiry; a file with no certificate
// OpenSSL can read (it was loaded another way) is left out.
void note_certificate_file(std::vector<CertificateFile>& files, std::string role, const std::string& path);

// OpenSSL's reason for the oldest error on this thread's queue, and clears the queue.
std::string openssl_reason();

}  // namespace rpcgate::tls
