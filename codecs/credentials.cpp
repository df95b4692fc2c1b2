#include "codecs/credentials.h"

namespace rpcgate::codec {
namespace {

// 0 when equal. Runs over all of `given` whatever the contents, and over `expected` as far.
unsigned differs(std::string_view given, std::string_view expected) {
  unsigned diff = given.size() == expected.size() ? 0u : 1u;
  for (size_t i = 0; i < given.size(); ++i) {
    unsigned char want = expected.empty() ? 0 : static_cast<unsigned char>(expected[i % expected.size()]);
    diff |= static_cast<unsigned char>(given[i]) ^ want;
  }
  return diff;
}

}  // namespace

bool Credentials::check(std::string_view user, std::string_view password) const {
  unsigned matches = 0;
  for (const auto& [name, secret] : users_) {
    unsigned diff = differs(user, name) | differs(password, secret);
    matches |= static_cast<unsigned>(diff == 0);
  }
  return matches != 0;
}

bool Credentials::has_user(std::string_view user) const {
  for (const auto& entry : users_)
    if (entry.first == user) return true;
  return false;
}

}  // namespace rpcgate::codec
