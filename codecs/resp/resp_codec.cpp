// The resp codec's entry points for the registry (codecs/registry.cpp), and the options it owns.
#include "codecs/resp/resp_codec.h"

#include <limits>

#include "codecs/resp/resp_client_codec.h"
#include "codecs/resp/resp_server_codec.h"
#include "codecs/resp/resp_sharding.h"

namespace rpcgate::codec::resp {
namespace {

// Upper bounds catch typos (an extra zero); they are not advice.
constexpr uint64_t kMaxBytes = uint64_t{1} << 40;                       // 1 TiB
constexpr uint64_t kMaxElements = std::numeric_limits<int32_t>::max();  // hiredis counts in an int
constexpr std::string_view kArgs[] = {"auto", "strings"};
constexpr std::string_view kRedisAuth = "Redis AUTH";
constexpr std::string_view kReadFromChoices[] = {"master", "replica_preferred"};

using Kind = CodecOption::Kind;
using Side = CodecOption::Side;
using Value = CodecOption::Value;

const CodecOption kOptions[] = {
    {.key = "args",
     .kind = Kind::kChoice,
     .choices = kArgs,
     .apply = [](CodecOptions& o,
                 const Value& v) { o.resp_args = v.text == "strings" ? RespArgs::kStrings : RespArgs::kAuto; },
     .show = [](const CodecOptions& o) -> Json { return o.resp_args == RespArgs::kStrings ? "strings" : "auto"; }},
    {.key = "max_request_bytes",
     .kind = Kind::kSize,
     .min = 1,
     .max = kMaxBytes,
     .apply = [](CodecOptions& o, const Value& v) { o.limits.max_request_bytes = v.number; }},
    {.key = "max_elements",
     .kind = Kind::kInteger,
     .min = 1,
     .max = kMaxElements,
     .apply = [](CodecOptions& o, const Value& v) { o.limits.max_elements = v.number; }},
    {.key = "max_inline_bytes",
     .kind = Kind::kSize,
     .min = 1,
     .max = kMaxBytes,
     .apply = [](CodecOptions& o, const Value& v) { o.limits.max_inline_bytes = v.number; }},
    {.key = "username",
     .kind = Kind::kString,
     .side = Side::kCluster,
     .note = kRedisAuth,
     .apply = [](CodecOptions& o, const Value& v) { o.auth_username = v.text; },
     .show = [](const CodecOptions& o) -> Json { return o.auth_username.empty() ? Json() : Json(o.auth_username); }},
    {.key = "password",
     .kind = Kind::kString,
     .side = Side::kCluster,
     .note = kRedisAuth,
     .apply = [](CodecOptions& o, const Value& v) { o.auth_password = v.text; },
     .show = [](const CodecOptions& o) -> Json { return o.auth_password.empty() ? Json() : Json(kRedacted); }},
    {.key = "forward_auth",
     .kind = Kind::kBool,
     .side = Side::kCluster,
     .note = kRedisAuth,
     .apply = [](CodecOptions& o, const Value& v) { o.forward_auth = v.flag; },
     .show = [](const CodecOptions& o) -> Json { return o.forward_auth; }},
    {.key = kRedisClusterOption,
     .kind = Kind::kBool,
     .side = Side::kCluster,
     .note = "Redis Cluster",
     .show = [](const CodecOptions& o) -> Json { return redis_cluster(o); }},
    {.key = kReadFromOption,
     .kind = Kind::kChoice,
     .side = Side::kCluster,
     .choices = kReadFromChoices,
     .note = "Redis Cluster",
     .show = [](const CodecOptions& o) -> Json {
       auto found = o.extra.find(std::string(kReadFromOption));
       return found != o.extra.end() ? *found : Json();
     }},
};

// Replies a Redis may legitimately send pass by default: a bulk as long as its
// proto-max-bulk-len allows (512 MiB), any element count. They are only scanned, never built; a
// reply over the limits fails its own request alone (docs/redis-compatibility.md).
void cluster_defaults(CodecOptions& options) {
  options.limits.max_frame_bytes = 512u << 20;
  options.limits.max_request_bytes = size_t{1} << 30;
  options.limits.max_elements = kMaxElements;
}

std::pair<std::string_view, std::string> check(const CodecOptions& options) {
  if (!options.auth_username.empty() && options.auth_password.empty()) return {"username", "username needs a password"};
  if (options.extra.contains(std::string(kReadFromOption)) && !redis_cluster(options))
    return {kReadFromOption, "read_from needs redis_cluster: true (it chooses among a Redis Cluster's replicas)"};
  return {};
}

}  // namespace

std::unique_ptr<ServerCodec> make_server_codec(const CodecOptions& options) {
  return std::make_unique<RespServerCodec>(options);
}

std::unique_ptr<ClientCodec> make_client_codec(const CodecOptions& options) {
  return std::make_unique<RespClientCodec>(options);
}

const CodecInfo kInfo = {
    .name = "resp",
    .make_server = &make_server_codec,
    .make_client = &make_client_codec,
    .options = kOptions,
    .cluster_defaults = &cluster_defaults,
    .check = &check,
    // A route that sends SELECT to a Redis is a catch-all sidecar's.
    .sidecar_probe = "select",
    .lowercases_methods = true,
};

}  // namespace rpcgate::codec::resp
