// The users a listener accepts, and the check of one login. Pure: no I/O; the config loader
// reads the users from a file or an environment variable, never from the config text itself.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rpcgate::codec {

// The user a password alone (RESP `AUTH password`, a JSON `auth` with only a password) logs in
// as, as in Redis.
inline constexpr std::string_view kDefaultUser = "default";

class Credentials {
 public:
  void add(std::string user, std::string password) { users_.emplace_back(std::move(user), std::move(password)); }
  bool empty() const { return users_.empty(); }

  // Whether `user` exists with `password`. Every entry is compared, in time that depends on the
  // lengths only, never on where the bytes differ: a client cannot learn a password, or which
  // users exist, by timing its attempts.
  bool check(std::string_view user, std::string_view password) const;
  // Whether `user` exists: for a login vouched for otherwise (a verified client certificate),
  // whose name the client did not choose freely, so its timing tells nothing worth hiding.
  bool has_user(std::string_view user) const;
  // The same users with the same passwords: a reload that changed none needs no new workers.
  bool operator==(const Credentials&) const = default;

 private:
  std::vector<std::pair<std::string, std::string>> users_;
};

}  // namespace rpcgate::codec
