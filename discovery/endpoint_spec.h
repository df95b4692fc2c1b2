// One endpoint of the set a cluster balances over: from its static list (weight 1) or from
// discovery. Apart from cluster.h so discovery's pure code does not need the event-loop side.
#pragma once

#include "conf/config.h"

namespace rpcgate::discovery {

struct EndpointSpec {
  conf::Address address;
  unsigned weight = 1;
};

}  // namespace rpcgate::discovery
