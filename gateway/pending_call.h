// A request that could not be answered on the spot (it runs on the thread pool), or an answer
// waiting behind one: the connection keeps these in request order and writes each once every
// call before it is written.
#pragma once

#include <uv.h>

#include "codecs/message.h"
#include "conf/config.h"
#include "gateway/handler.h"

namespace rpcgate {

class Connection;

struct PendingCall {
  Request request;
  Response response;
  bool done = false;
  // Null once the connection is gone: the thread pool callback then frees the call itself, and
  // its late answer goes nowhere.
  Connection* owner = nullptr;
  const Handler* handler = nullptr;
  const conf::RouteConfig* route = nullptr;  // the route that chose the handler, if one did
  size_t route_index = 0;
  uv_work_t work{};
};

// Runs call->handler on the libuv thread pool; on completion calls owner->on_call_done(call),
// or frees the call when the owner has gone.
void run_on_thread_pool(uv_loop_t* loop, PendingCall* call);
// Detaches a call whose connection is closing: it is freed now if it is not running, or by the
// thread pool callback when it is.
void abandon_call(PendingCall* call);

}  // namespace rpcgate
