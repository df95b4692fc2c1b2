// The readers of each top-level section of the config file, used by config_loader.cpp. Each
// fills its part of Config from a YAML field, recording problems in the context; checks that span
// sections (a route's cluster exists, the admin port is free) are the loader's.
#pragma once

#include "conf/config.h"
#include "conf/yaml_reader.h"

namespace rpcgate::conf {

void read_process(ReadContext& ctx, const Field& field, ProcessConfig& out);
void read_listeners(ReadContext& ctx, const Field& field, std::vector<ListenerConfig>& out);
void read_admin(ReadContext& ctx, const Field& field, AdminConfig& out);
void read_handlers(ReadContext& ctx, const Field& field, HandlersConfig& out);
void read_routes(ReadContext& ctx, const Field& field, std::vector<RouteConfig>& out);
void read_clusters(ReadContext& ctx, const Field& field, std::vector<ClusterConfig>& out);
void read_logging(ReadContext& ctx, const Field& field, LoggingConfig& out);
void read_zookeeper(ReadContext& ctx, const Field& field, ZookeeperConfig& out);

// Two listen addresses that cannot both be bound: the same, or one a wildcard covering the other.
bool addresses_overlap(const Address& a, const Address& b);

}  // namespace rpcgate::conf
