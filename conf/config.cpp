// Small helpers of the typed configuration: how an origin, an address, a route's match and a
// process model print in messages.
#include "conf/config.h"

#include <fnmatch.h>

#include <algorithm>
#include <iterator>

namespace rpcgate::conf {

std::string Origin::describe() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line);
}

std::string Address::to_string() const {
  // An IPv6 literal holds colons, so it needs brackets to keep the port readable.
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

namespace {

std::string joined(const std::vector<std::string>& items, char separator) {
  std::string list;
  for (const auto& item : items) {
    if (!list.empty()) list += separator;
    list += item;
  }
  return list;
}

}  // namespace

std::string RouteConfig::describe_match(char separator) const {
  std::string out;
  switch (kind) {
    case MatchKind::kPrefix:
      out = "prefix:" + pattern;
      break;
    case MatchKind::kGlob:
      out = "glob:" + pattern;
      break;
    case MatchKind::kMethods:
      out = "methods:" + joined(methods, separator);
      break;
  }
  if (!client_identities.empty()) out += " client_identity:" + joined(client_identities, separator);
  return out;
}

bool RouteConfig::admits(std::string_view identity) const {
  return client_identities.empty() ||
         std::find(client_identities.begin(), client_identities.end(), identity) != client_identities.end();
}

bool RouteConfig::matches(const std::string& method) const {
  switch (kind) {
    case MatchKind::kMethods:
      return std::find(methods.begin(), methods.end(), method) != methods.end();
    case MatchKind::kPrefix:
      return method.starts_with(pattern);
    case MatchKind::kGlob:
      return fnmatch(pattern.c_str(), method.c_str(), 0) == 0;
  }
  return false;
}

std::string to_string(ProcessModel model) { return std::string(kProcessModelNames[static_cast<size_t>(model)]); }

std::optional<ProcessModel> parse_process_model(std::string_view name) {
  auto found = std::find(std::begin(kProcessModelNames), std::end(kProcessModelNames), name);
  if (found == std::end(kProcessModelNames)) return std::nullopt;
  return static_cast<ProcessModel>(found - std::begin(kProcessModelNames));
}

Origin Config::origin_of(std::string_view key_path) const {
  if (auto it = origins.find(key_path); it != origins.end()) return it->second;
  return Origin{path, 0};
}

}  // namespace rpcgate::conf
