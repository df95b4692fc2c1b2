#include "conf/route_checks.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/message.h"

namespace rpcgate::conf {
namespace {

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

bool has_upper_case(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::string lower_case(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The literal that every method taking `route` starts with, when that literal alone decides it: a
// prefix route, or a glob of a literal and one final '*' ("pi.*", "*").
std::optional<std::string_view> as_prefix(const RouteConfig& route) {
  if (route.kind == RouteConfig::MatchKind::kPrefix) return route.pattern;
  if (route.kind != RouteConfig::MatchKind::kGlob || !route.pattern.ends_with('*')) return std::nullopt;
  std::string_view literal(route.pattern.data(), route.pattern.size() - 1);
  if (literal.find_first_of("*?[\\") != std::string_view::npos) return std::nullopt;
  return literal;
}

// Whether `earlier` takes every client that `later` would (null: a handler answering by its
// own name, which takes any client): it admits any, or at least each that `later` names.
bool admits_all_of(const RouteConfig& earlier, const RouteConfig* later) {
  if (earlier.client_identities.empty()) return true;
  if (later == nullptr || later->client_identities.empty()) return false;
  return std::all_of(later->client_identities.begin(), later->client_identities.end(),
                     [&](const std::string& identity) { return earlier.admits(identity); });
}

// Whether `earlier` takes every method that `later`, a prefix or glob route, would take.
bool covers(const RouteConfig& earlier, const RouteConfig& later) {
  if (!admits_all_of(earlier, &later)) return false;
  auto earlier_prefix = as_prefix(earlier);
  if (!earlier_prefix) return false;
  if (auto later_prefix = as_prefix(later)) return later_prefix->starts_with(*earlier_prefix);
  return earlier_prefix->empty();
}

std::string route_name(const RouteConfig& route) {
  return "the route at line " + std::to_string(route.origin.line) + " (" + route.describe_match(',') + ")";
}

class RouteChecker {
 public:
  RouteChecker(ReadContext& ctx, const Config& config, std::span<const std::string_view> known_handlers)
      : ctx_(ctx), config_(config), known_(known_handlers) {}

  void run() {
    const auto& enabled = config_.handlers.enabled;
    for (size_t i = 0; i < enabled.size(); ++i) {
      const std::string path = "handlers.enable[" + std::to_string(i) + "]";
      if (check_handler_name(enabled[i], path)) check_enabled_handler_reachable(enabled[i], path);
    }
    const bool lower = every_listener_lowercases();
    for (size_t i = 0; i < config_.routes.size(); ++i) {
      const RouteConfig& route = config_.routes[i];
      const std::string path = "routes[" + std::to_string(i) + "]";
      if (!route.handler.empty()) check_handler_name(route.handler, path + ".handler");
      check_identities(route, path);
      if (route.kind == RouteConfig::MatchKind::kMethods) {
        for (size_t k = 0; k < route.methods.size(); ++k) check_method(i, k, path, lower);
      } else {
        check_pattern(i, path, lower);
      }
    }
  }

 private:
  int line_of(const std::string& path, int fallback) const {
    int line = ctx_.line_of(path);
    return line > 0 ? line : fallback;
  }

  // The earlier route that takes `method` first from every client `later` would take it from
  // (null: any client), if any.
  const RouteConfig* taken_before(size_t index, const std::string& method, const RouteConfig* later) const {
    for (size_t j = 0; j < index; ++j)
      if (config_.routes[j].matches(method) && admits_all_of(config_.routes[j], later)) return &config_.routes[j];
    return nullptr;
  }

  // A route for some identities needs a listener that gives clients one.
  void check_identities(const RouteConfig& route, const std::string& path) {
    if (route.client_identities.empty()) return;
    const bool any = std::any_of(config_.listeners.begin(), config_.listeners.end(),
                                 [](const ListenerConfig& l) { return l.tls && !l.tls->settings.client_ca.empty(); });
    if (any) return;
    ctx_.error(line_of(path + ".match.client_identity", route.origin.line), path,
               "client_identity: no listener asks for client certificates (tls.client_ca), so no client has an "
               "identity and this route is never taken");
  }

  // False when `name` is unknown (and reported).
  bool check_handler_name(const std::string& name, const std::string& path) {
    if (known_.empty() || std::find(known_.begin(), known_.end(), name) != known_.end()) return true;
    ctx_.error(line_of(path, 0), path,
               "unknown handler " + in_quotes(name) + did_you_mean(name, known_) + "; known: " + join(known_));
    return false;
  }

  // Only handlers the file lists: the defaults, enabled when the file has no handlers section,
  // may well sit behind a catch-all route.
  void check_enabled_handler_reachable(const std::string& name, const std::string& path) {
    const int line = ctx_.line_of(path);
    if (line == 0) return;
    const RouteConfig* first = taken_before(config_.routes.size(), name, nullptr);
    if (first == nullptr || first->handler == name) return;
    ctx_.error(line, path,
               "handler " + in_quotes(name) + " never answers: " + route_name(*first) + " takes method " +
                   in_quotes(name) + " first; route it before that line ({match: {method: " + name +
                   "}, handler: " + name + "}) or remove it from handlers");
  }

  void check_method(size_t index, size_t k, const std::string& path, bool lower) {
    const RouteConfig& route = config_.routes[index];
    const std::string& method = route.methods[k];
    const std::string item = path + ".match.methods[" + std::to_string(k) + "]";
    const int line = line_of(item, line_of(path + ".match.method", route.origin.line));
    if (method == kOwnInfoMethod && route.handler != "info") {
      ctx_.error(
          line, path,
          "method " + in_quotes(method) + " never reaches this route: rpcgate answers it itself, with its own INFO");
    } else if (method == kOwnHealthMethod && route.handler != "health") {
      ctx_.error(
          line, path,
          "method " + in_quotes(method) + " never reaches this route: rpcgate answers it itself, from its readiness");
    } else if (const RouteConfig* first = taken_before(index, method, &route)) {
      ctx_.error(
          line, path,
          "method " + in_quotes(method) + " never reaches this route: " + route_name(*first) + " takes it first");
    } else if (lower && has_upper_case(method)) {
      ctx_.error(line, path,
                 "method " + in_quotes(method) + " is never asked for: " + lowercasing_listeners() + "; write " +
                     in_quotes(lower_case(method)));
    }
  }

  void check_pattern(size_t index, const std::string& path, bool lower) {
    const RouteConfig& route = config_.routes[index];
    for (size_t j = 0; j < index; ++j) {
      if (!covers(config_.routes[j], route)) continue;
      ctx_.error(route.origin.line, path,
                 "this route is never reached: " + route_name(config_.routes[j]) + " takes every method it would");
      return;
    }
    // A bracket expression ([A-Z]) may name upper-case letters on purpose without needing them.
    if (lower && has_upper_case(route.pattern) && route.pattern.find('[') == std::string::npos)
      ctx_.error(route.origin.line, path,
                 "pattern " + in_quotes(route.pattern) + " matches no method asked for: " + lowercasing_listeners() +
                     "; write " + in_quotes(lower_case(route.pattern)));
  }

  bool every_listener_lowercases() const {
    if (config_.listeners.empty()) return false;
    return std::all_of(config_.listeners.begin(), config_.listeners.end(), [](const ListenerConfig& listener) {
      const codec::CodecInfo* info = codec::find_codec(listener.codec);
      return info != nullptr && info->lowercases_methods;
    });
  }

  // "every listener (resp: resp) lower-cases method names"
  std::string lowercasing_listeners() const {
    std::string names;
    for (const auto& listener : config_.listeners)
      names += (names.empty() ? "" : ", ") + listener.name + ": " + listener.codec;
    return "every listener (" + names + ") lower-cases method names";
  }

  ReadContext& ctx_;
  const Config& config_;
  std::span<const std::string_view> known_;
};

}  // namespace

void check_routes(ReadContext& ctx, const Config& config, std::span<const std::string_view> known_handlers) {
  RouteChecker(ctx, config, known_handlers).run();
}

}  // namespace rpcgate::conf
