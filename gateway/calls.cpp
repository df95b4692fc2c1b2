#include "gateway/calls.h"

#include "backends/cluster.h"

namespace rpcgate {
namespace {

void on_work(uv_work_t* work) {
  auto* call = static_cast<PendingCall*>(work->data);
  call->handler->handle(call->request, call->response);
}

void on_work_done(uv_work_t* work, int status) {
  auto* call = static_cast<PendingCall*>(work->data);
  if (call->owner == nullptr) {
    free_call(call);
    return;
  }
  if (status != 0) call->response.set_error(ErrorCode::kInternal, "the thread pool did not run the call");
  call->done = true;
  call->owner->on_call_done(call);
}

}  // namespace

void run_on_thread_pool(uv_loop_t* loop, PendingCall* call) {
  call->work.data = call;
  int rc = uv_queue_work(loop, &call->work, &on_work, &on_work_done);
  if (rc != 0) {
    call->response.set_error(ErrorCode::kInternal, std::string("cannot queue work: ") + uv_strerror(rc));
    call->done = true;
  }
}

void abandon_call(PendingCall* call) {
  if (call->done) {
    free_call(call);
    return;
  }
  if (call->upstream.cluster != nullptr) {
    call->upstream.cluster->cancel(call);
    free_call(call);
    return;
  }
  call->owner = nullptr;
  // Cancelling a queued call makes libuv run on_work_done with UV_ECANCELED, which frees it.
  uv_cancel(reinterpret_cast<uv_req_t*>(&call->work));
}

}  // namespace rpcgate
