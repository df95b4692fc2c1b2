// A streamed call (docs/architecture.md, "Streamed calls"): one whose messages pass between the
// client and the upstream as they come, beside its canonical request and response, which keep
// what is said once (method and metadata; then the status and trailing metadata). Both codecs of
// the call tell the gateway's pairing of what their side does through this interface; the
// pairing moves the bytes on and says when each side may read more, so that neither buffers
// more than a flow-control window of them.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/message.h"

namespace rpcgate {

class CallStream {
 public:
  // The listener's codec: the client sent `bytes` of the call's messages, or half-closed its
  // side, or reset the call (it wants no answer any more).
  virtual void from_client(std::string_view bytes) = 0;
  virtual void client_ended() = 0;
  virtual void client_reset() = 0;
  // The listener's codec framed `bytes` of the server's messages for the client: the upstream
  // may send that much more.
  virtual void sent_to_client(size_t bytes) = 0;

  // The cluster's codec: the upstream answered with headers (its initial metadata), and then
  // `bytes` of its messages. Its trailers end the call as its response.
  virtual void response_headers(const Meta& meta) = 0;
  virtual void from_server(std::string_view bytes) = 0;
  // The cluster's codec framed `bytes` of the client's messages for the upstream: the client may
  // send that much more.
  virtual void sent_to_server(size_t bytes) = 0;

  // Backends: the call was just put on an upstream connection (its head and payload encoded);
  // what the client does from now on goes there.
  virtual void placed() = 0;
  // Backends: whether the call may still be placed again (the upstream refused it unseen, or its
  // connection went down before writing it): only while Request::payload still holds every byte
  // the client has sent on it.
  virtual bool may_replay() const = 0;

 protected:
  ~CallStream() = default;
};

}  // namespace rpcgate
