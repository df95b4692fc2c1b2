// The upstream session seam: what a client's connection holds on an upstream server of the
// codec's own protocol, for protocols whose servers keep per-connection state (Redis: a
// transaction, a blocked call, a selected database, a subscription). Optional beside the codec:
// a ServerCodec offers one through session(); the gateway pins upstream connections only for
// codecs that do, and codecs without server-side state (json, protobuf) need none of it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/message.h"

namespace rpcgate::codec {

// What a request does to the server's side of its connection, when it is forwarded to an upstream
// of the same codec. Only kNone may travel on a connection shared by several clients: exactly one
// reply, and nothing left behind on the connection.
enum class Pinning : uint8_t {
  kNone,
  // Leaves state that later requests of the same client rely on (a transaction, a blocked call,
  // a selected database): a connection of the client's own.
  kSession,
  // As kSession, and the server may hold it (a Redis blocking command): the client's later
  // requests are read only once it is answered, as a blocked client's input waits in Redis.
  kBlocking,
  // From here on the replies are not one per request (pub/sub, MONITOR, Redis's CLIENT REPLY
  // OFF), or not the protocol at all (SYNC: an RDB file, then the replication stream): a
  // connection of the client's own, and the gateway steps aside, passing both ways unread.
  kStream,
  // Answered here (SELECT 0, CLIENT SETNAME, HELLO) while the client has no connection of its
  // own, and forwarded on it once it has one.
  kLocalUnlessPinned,
};

// What a client's own connection still holds, for a cluster that gives that connection up once
// nothing is left on it (a Redis Cluster: the client's next requests must follow their keys again).
struct SessionHold {
  bool transaction = false;  // between MULTI and EXEC or DISCARD
  bool watching = false;     // keys watched, until EXEC, DISCARD or UNWATCH
  bool lasting = false;      // anything else (a name, a protocol, a subscription): held until the client leaves
  bool clear() const { return !transaction && !watching && !lasting; }
};

// A request of a client with no connection of its own to a cluster that places that connection
// by key, and where a session that names no key (MULTI) waits for one.
enum class Deferral : uint8_t {
  kNone,      // goes as usual; while deferring, it opens the connection, deferred_frame() first
  kDefer,     // starts a deferred session: answered here (`reply`)
  kAnswered,  // answered here while deferring, which goes on (a nested MULTI)
  kEnded,     // answered here, and the deferred session ends (EXEC of nothing, DISCARD)
};

class UpstreamSession {
 public:
  // For a request with a forward_frame(): whether it needs an upstream connection of its client's own.
  virtual Pinning pinning(const Request& request) const = 0;

  // A kLocalUnlessPinned request from a client with no connection of its own: true with `reply`
  // filled when the codec answers it; false when `request` now holds what to ask a shared
  // connection instead (RESP HELLO asks a bare HELLO), whose answer complete() finishes.
  virtual bool answer_locally(Request& request, Response& reply) = 0;
  // Adjusts an upstream's answer to a re-encoded request before it is encoded for this client.
  virtual void complete(const Request& request, Response& response) = 0;
  // The gateway's id for this connection, for protocols that show one (RESP HELLO).
  virtual void set_connection_id(uint64_t id) = 0;
  // The client now has an upstream connection of its own: from here on the session commands the
  // codec answered in its stead (RESP HELLO, QUIT) go there as they are, in order.
  virtual void on_own_connection() = 0;
  // Frames that recreate, on a new upstream connection of the client's own, the session state
  // the codec has kept for it (RESP: HELLO 3, the client name). Their replies are dropped.
  virtual std::vector<std::string> session_preamble() const = 0;
  // Whether the codec shows its clients the address they reached the listener by (RESP in front
  // of a Redis Cluster answers CLUSTER SLOTS with it); the gateway then tells it, once.
  virtual bool wants_local_address() const { return false; }
  virtual void set_local_address(std::string_view /*host*/, uint16_t /*port*/) {}

  // For a cluster that places a client's own connection by key (ClientCodec::sharding()): the
  // connection opens at the first request that names one, not at a MULTI that names none, and it
  // is closed once nothing is left on it. The defaults never defer and hold every connection.
  virtual Deferral defer(const Request& request, bool deferring, Response& reply) const {
    (void)request;
    (void)deferring;
    (void)reply;
    return Deferral::kNone;
  }
  // Sent first on the connection a deferred session opens (MULTI); its reply is dropped.
  virtual std::string deferred_frame() const { return {}; }
  // What `request`, sent on the client's own connection, leaves there.
  virtual void track(const Request& request, SessionHold& hold) const {
    (void)request;
    hold.lasting = true;
  }
  // The client's own connections were all given up: session commands are answered here again.
  virtual void on_own_connection_released() {}

 protected:
  ~UpstreamSession() = default;
};

}  // namespace rpcgate::codec
