// The gateway's one ZooKeeper session, in the master: watches the paths clusters discover their
// endpoints under, and keeps this gateway's own registrations (ephemeral sequential nodes in the
// legacy format). Built on the single-threaded C client, driven by the master's poll loop through
// poll_interest()/process(): no thread, no lock, every callback runs inside process().
//
// Outages keep the last known state: while the connection is lost, or a new session is being
// opened after an expiry, nodes() still returns what was read last. A new session re-reads every
// path and re-creates the registrations its predecessor's expiry removed.
#pragma once

#include <poll.h>
#include <zookeeper/zookeeper.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "conf/config.h"
#include "discovery/nodes.h"

namespace rpcgate::discovery {

class ZooKeeperClient {
 public:
  class Events {
   public:
    virtual ~Events() = default;
    // The valid nodes under a watched path changed (snapshot() has them).
    virtual void on_nodes_changed(const std::string& path) = 0;
  };

  // A node this gateway publishes: an ephemeral sequential child `path`/rpc with `data`.
  struct Registration {
    std::string path;
    std::string data;
    bool operator==(const Registration&) const = default;
  };

  ZooKeeperClient(const conf::ZookeeperConfig& config, Events& events);
  // Closes the session: ZooKeeper removes its ephemeral nodes at once.
  ~ZooKeeperClient();
  ZooKeeperClient(const ZooKeeperClient&) = delete;
  ZooKeeperClient& operator=(const ZooKeeperClient&) = delete;

  // Whether `config` needs a new session (servers, chroot or session timeout differ).
  bool same_session_settings(const conf::ZookeeperConfig& config) const;

  void set_watched_paths(const std::vector<std::string>& paths);
  // Every watched path has been read once (or found missing) since it was added.
  bool all_synced() const;
  const Snapshot& snapshot() const { return published_; }

  // Creates what is wanted and missing, deletes what is no longer wanted.
  void set_registrations(const std::vector<Registration>& wanted);
  // Nothing being created or deleted: after set_registrations({}), every node is gone.
  bool registrations_settled() const;

  // For the master's poll(): fd and events to wait for (fd -1: none now), and the longest wait.
  void poll_interest(pollfd& fd, int& timeout_ms);
  void process(short revents);

  // 1 connected, 2 connecting, 3 expired (MasterStats::ZookeeperState), 0 without a handle.
  uint64_t state_code() const;
  uint64_t session_expiries() const { return expiries_; }
  size_t registered_count() const;
  // The socket to the server as last reported to poll_interest(), or -1. A forked worker closes
  // its copy: held open there, it would keep the session alive after the master died.
  int socket_fd() const { return socket_fd_; }

 private:
  struct Child {
    bool fetched = false;
    bool valid = false;
    Node node;
  };
  struct Watched {
    bool synced = false;
    bool missing_logged = false;
    std::map<std::string, Child> children;
  };
  enum class NodeState : uint8_t { kWanted, kCreating, kCreated, kDeleting };
  struct Registered {
    Registration registration;
    NodeState state = NodeState::kWanted;
    bool wanted = true;
    std::string node;  // the created path, once kCreated
  };
  // What a completion needs to find its way back: it outlives nothing (freed by the completion,
  // which the C client calls exactly once, with ZCLOSING when the handle closes first).
  struct Call {
    ZooKeeperClient* client;
    uint64_t session;  // the session it was sent on: answers from an older one are ignored
    std::string path;
    std::string child;
  };

  void open_session();
  void reopen_session();
  static void on_watch(zhandle_t* zh, int type, int state, const char* path, void* context);
  void on_session_event(int state);
  void on_connected();

  Call* call(std::string path, std::string child = {});
  void read_children(const std::string& path);
  void read_child(const std::string& path, const std::string& child);
  static void on_children(int rc, const String_vector* strings, const void* data);
  static void on_child_data(int rc, const char* value, int length, const Stat* stat, const void* data);
  static void on_exists(int rc, const Stat* stat, const void* data);
  void publish_if_complete(const std::string& path);

  void sync_registrations();
  void create_node(Registered& entry);
  void delete_node(Registered& entry);
  static void on_created(int rc, const char* value, const void* data);
  static void on_deleted(int rc, const void* data);
  static void on_parent_created(int rc, const char* value, const void* data);
  Registered* find_registered(const std::string& path, const std::string& node_or_data);

  conf::ZookeeperConfig config_;
  std::string hosts_;  // "h1:p1,h2:p2/chroot"
  Events& events_;
  zhandle_t* zh_ = nullptr;
  uint64_t session_ = 0;  // bumped by every new handle
  int64_t session_id_ = 0;
  bool connected_ = false;
  bool expired_ = false;
  bool lost_logged_ = false;
  int socket_fd_ = -1;
  uint64_t expiries_ = 0;
  std::map<std::string, Watched> watched_;
  Snapshot published_;
  std::vector<Registered> registered_;
};

}  // namespace rpcgate::discovery
