#include "tls/certificate_files.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

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

std::optional<int64_t> unix_time(const ASN1_TIME* time) {
  struct tm parts {};
  if (ASN1_TIME_to_tm(time, &parts) != 1) return std::nullopt;
  return static_cast<int64_t>(timegm(&parts));
}

}  // namespace

bool use_certificate_and_key(SSL_CTX* context, const std::string& cert, const std::string& key, std::string& error) {
  if (SSL_CTX_use_certificate_chain_file(context, cert.c_str()) != 1) {
    error = "cert " + cert + ": cannot load: " + openssl_reason();
    return false;
  }
  if (!key_is_private(key, error)) return false;
  // Read apart from the context, so that a key of another certificate is told as such and not
  // as a load failure.
  EVP_PKEY* private_key = nullptr;
  if (BIO* file = BIO_new_file(key.c_str(), "r"); file != nullptr) {
    private_key = PEM_read_bio_PrivateKey(file, nullptr, no_passphrase, nullptr);
    BIO_free(file);
  }
  if (private_key == nullptr) {
    error = "key " + key + ": cannot load (expected an unencrypted PEM private key): " + openssl_reason();
    return false;
  }
  const bool matches = X509_check_private_key(SSL_CTX_get0_certificate(context), private_key) == 1;
  const bool used = matches && SSL_CTX_use_PrivateKey(context, private_key) == 1;
  EVP_PKEY_free(private_key);  // the context holds its own reference
  if (!matches) {
    ERR_clear_error();
    error = "key " + key + ": does not match cert " + cert;
    return false;
  }
  if (!used) {
    error = "key " + key + ": cannot use: " + openssl_reason();
    return false;
  }
  X509* certificate = SSL_CTX_get0_certificate(context);
  if (certificate != nullptr && X509_cmp_current_time(X509_get0_notAfter(certificate)) <= 0) {
    error = "cert " + cert + ": has expired";
    return false;
  }
  return true;
}

void note_certificate_file(std::vector<CertificateFile>& files, std::string role, const std::string& path) {
  BIO* file = BIO_new_file(path.c_str(), "r");
  if (file == nullptr) {
    ERR_clear_error();
    return;
  }
  std::optional<int64_t> earliest;
  while (X509* certificate = PEM_read_bio_X509(file, nullptr, no_passphrase, nullptr)) {
    std::optional<int64_t> expires = unix_time(X509_get0_notAfter(certificate));
    if (expires && (!earliest || *expires < *earliest)) earliest = expires;
    X509_free(certificate);
  }
  BIO_free(file);
  ERR_clear_error();  // the end of the file reads as an error
  if (earliest) files.push_back(CertificateFile{std::move(role), path, *earliest});
}

}  // namespace rpcgate::tls
