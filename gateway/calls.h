// What happens to a call outside its connection: a blocking handler's run on the libuv thread
// pool, and the withdrawal of a call whose owner is going away.
#pragma once

#include <uv.h>

#include "core/pending_call.h"

namespace rpcgate {

// Runs call->handler on the libuv thread pool; on completion calls owner->on_call_done(call),
// or frees the call when the owner has gone.
void run_on_thread_pool(uv_loop_t* loop, PendingCall* call);
// Detaches a call whose owner is going away. A finished call is freed now; a thread pool call
// when its worker thread is done with it; an upstream call is withdrawn from its cluster and freed.
void abandon_call(PendingCall* call);

}  // namespace rpcgate
