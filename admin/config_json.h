// The effective configuration, every default filled in, as JSON: the admin port's GET /config.
// Secrets (upstream passwords) are replaced by "<redacted>": the admin port must be safe to
// expose to whoever may read metrics.
#pragma once

#include "conf/config.h"
#include "core/message.h"

namespace rpcgate {

using codec::kRedacted;

Json config_json(const conf::Config& config);

}  // namespace rpcgate
