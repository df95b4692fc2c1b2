#include "core/pending_call.h"

namespace rpcgate {

PendingCall* new_call(CallOwner* owner) {
  auto* call = new PendingCall();
  call->owner = owner;
  return call;
}

void free_call(PendingCall* call) { delete call; }

}  // namespace rpcgate
