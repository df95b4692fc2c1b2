#include "core/pending_call.h"

#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace rpcgate {
namespace {

// Every request makes a call and frees it once answered. Freed calls are kept for the next ones,
// with the capacity their strings grew to (the request frame and the reply in `upstream.wire`),
// so that a steady load allocates no call and no frame copy. Bounded: a burst of many thousand
// calls in flight gives its memory back once it is over.
constexpr size_t kKeptCalls = 1024;
// A kept call's strings are kept only up to this capacity; a large frame's buffer goes.
constexpr size_t kKeptStringCapacity = 4096;

// Sanitized builds free every call, so that a pointer kept to a freed call is a use after free
// that AddressSanitizer reports, not a reused call answered to the wrong client.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kKeepCalls = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kKeepCalls = false;
#else
constexpr bool kKeepCalls = true;
#endif
#else
constexpr bool kKeepCalls = true;
#endif

// Per thread: calls are made and freed on their loop's thread (a thread pool call is freed by its
// completion callback, which runs on the loop).
struct KeptCalls {
  std::vector<std::unique_ptr<PendingCall>> calls;
};
thread_local KeptCalls kept;

void keep_small(std::string& text) {
  text.clear();
  if (text.capacity() > kKeptStringCapacity) std::string().swap(text);
}

// The call as new, every field, but for the buffers of the frame strings it reuses.
void reset(PendingCall& call) {
  std::string wire = std::move(call.upstream.wire);
  std::string resend = std::move(call.upstream.resend);
  keep_small(wire);
  keep_small(resend);
  // Made anew in place: one pass, where assigning a new call would build it, move it and destroy it.
  call.~PendingCall();
  new (&call) PendingCall();
  call.upstream.wire = std::move(wire);
  call.upstream.resend = std::move(resend);
}

}  // namespace

PendingCall* new_call(CallOwner* owner) {
  PendingCall* call;
  if (kKeepCalls && !kept.calls.empty()) {
    call = kept.calls.back().release();
    kept.calls.pop_back();
  } else {
    call = new PendingCall();
  }
  call->owner = owner;
  return call;
}

void free_call(PendingCall* call) {
  if (!kKeepCalls || kept.calls.size() >= kKeptCalls) {
    delete call;
    return;
  }
  reset(*call);
  kept.calls.emplace_back(call);
}

}  // namespace rpcgate
