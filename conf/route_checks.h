// The checks of routes and handlers against each other and against the listeners: mistakes that
// no single value shows, found when the file is loaded so that `rpcgate -t` lists them with every
// other problem, each at its line.
#pragma once

#include <span>
#include <string_view>

#include "conf/config.h"
#include "conf/yaml_reader.h"

namespace rpcgate::conf {

// Reports into `ctx`:
// - a handler name (in `handlers` or a route's target) not in `known_handlers`, with the closest
//   known name (skipped when `known_handlers` is empty: the loader alone knows no handlers);
// - a route, or one method of a route, that an earlier route always takes first (from every
//   client it admits: match.client_identity), or that rpcgate always answers itself
//   (kOwnInfoMethod);
// - a route with match.client_identity when no listener asks for client certificates;
// - a handler listed in `handlers` that a route takes first, so it never answers by its name;
// - a method with upper-case letters when every listener lower-cases method names (RESP).
void check_routes(ReadContext& ctx, const Config& config, std::span<const std::string_view> known_handlers);

}  // namespace rpcgate::conf
