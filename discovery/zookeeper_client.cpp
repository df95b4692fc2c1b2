#include "discovery/zookeeper_client.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/log.h"

namespace rpcgate::discovery {
namespace {

// The C client logs every reconnect attempt; its lines go to our debug level, and the state
// changes that matter are logged by us, once each.
void log_from_library(const char* message) { LOG_DEBUG("zookeeper client: %s", message); }

std::string join_path(const std::string& parent, const std::string& child) { return parent + "/" + child; }

// The ancestors of `path` below the root, shortest first: /a/b/c -> /a, /a/b.
std::vector<std::string> ancestors(const std::string& path) {
  std::vector<std::string> out;
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1))
    out.push_back(path.substr(0, slash));
  return out;
}

}  // namespace

ZooKeeperClient::ZooKeeperClient(const conf::ZookeeperConfig& config, Events& events)
    : config_(config), events_(events) {
  for (const auto& server : config_.servers) hosts_ += (hosts_.empty() ? "" : ",") + server.to_string();
  hosts_ += config_.chroot;
  zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
  open_session();
}

ZooKeeperClient::~ZooKeeperClient() {
  if (zh_ != nullptr) zookeeper_close(zh_);
}

bool ZooKeeperClient::same_session_settings(const conf::ZookeeperConfig& config) const {
  auto names = [](const conf::ZookeeperConfig& c) {
    std::vector<std::string> out;
    for (const auto& server : c.servers) out.push_back(server.to_string());
    return out;
  };
  return names(config) == names(config_) && config.chroot == config_.chroot &&
         config.session_timeout == config_.session_timeout;
}

void ZooKeeperClient::open_session() {
  ++session_;
  connected_ = false;
  expired_ = false;
  zh_ = zookeeper_init2(hosts_.c_str(), &ZooKeeperClient::on_watch, static_cast<int>(config_.session_timeout.count()),
                        nullptr, this, 0, &log_from_library);
  if (zh_ == nullptr) LOG_ERROR("zookeeper: cannot create a client for %s: %s", hosts_.c_str(), strerror(errno));
}

// An expired handle is dead for good; its successor starts a new session. Never called from
// inside a callback of the old handle (process() calls it after zookeeper_process returns).
void ZooKeeperClient::reopen_session() {
  if (zh_ != nullptr) zookeeper_close(zh_);
  zh_ = nullptr;
  for (auto& entry : registered_) {
    entry.state = NodeState::kWanted;  // the expiry removed them
    entry.node.clear();
  }
  std::erase_if(registered_, [](const Registered& entry) { return !entry.wanted; });
  open_session();
}

void ZooKeeperClient::on_watch(zhandle_t* zh, int type, int state, const char* path, void* context) {
  auto* self = static_cast<ZooKeeperClient*>(context);
  if (self == nullptr || zh != self->zh_) return;
  std::string at = path != nullptr ? path : "";
  if (type == ZOO_SESSION_EVENT) {
    self->on_session_event(state);
  } else if (type == ZOO_CHILD_EVENT || type == ZOO_CREATED_EVENT) {
    if (self->watched_.count(at) > 0) self->read_children(at);
  } else if (type == ZOO_CHANGED_EVENT) {
    // A child's data changed: read it again (and re-arm its watch).
    size_t slash = at.rfind('/');
    std::string parent = slash == 0 ? "/" : at.substr(0, slash);
    auto watched = self->watched_.find(parent);
    if (watched != self->watched_.end() && watched->second.children.count(at.substr(slash + 1)) > 0)
      self->read_child(parent, at.substr(slash + 1));
  }
  // ZOO_DELETED_EVENT: a child's removal also fires its parent's child watch.
}

void ZooKeeperClient::on_session_event(int state) {
  if (state == ZOO_CONNECTED_STATE) {
    on_connected();
  } else if (state == ZOO_CONNECTING_STATE) {
    connected_ = false;
    if (!lost_logged_)
      LOG_WARN("zookeeper: lost the connection to %s; reconnecting, and serving the last known endpoints meanwhile",
               hosts_.c_str());
    lost_logged_ = true;
  } else if (state == ZOO_EXPIRED_SESSION_STATE) {
    connected_ = false;
    expired_ = true;
    ++expiries_;
    LOG_WARN("zookeeper: session 0x%llx expired; opening a new one (the last known endpoints stay in use)",
             static_cast<unsigned long long>(session_id_));
  } else if (state == ZOO_AUTH_FAILED_STATE) {
    connected_ = false;
    LOG_ERROR("zookeeper: authentication failed on %s", hosts_.c_str());
  }
}

void ZooKeeperClient::on_connected() {
  connected_ = true;
  lost_logged_ = false;
  const clientid_t* id = zoo_client_id(zh_);
  int64_t session_id = id != nullptr ? id->client_id : 0;
  if (session_id != session_id_) {
    LOG_INFO("zookeeper: session 0x%llx established with %s (timeout %d ms)",
             static_cast<unsigned long long>(session_id), zoo_get_current_server(zh_), zoo_recv_timeout(zh_));
  } else {
    LOG_INFO("zookeeper: reconnected to %s; session 0x%llx still valid", zoo_get_current_server(zh_),
             static_cast<unsigned long long>(session_id));
  }
  session_id_ = session_id;
  // Changes made while we were away fire the re-armed watches, but reading again is cheap and
  // also covers a new session, which has no watches at all.
  for (const auto& [path, unused] : watched_) read_children(path);
  sync_registrations();
}

void ZooKeeperClient::poll_interest(pollfd& fd, int& timeout_ms) {
  fd = pollfd{-1, 0, 0};
  if (expired_) {
    timeout_ms = 0;  // process() opens the next session
    return;
  }
  if (zh_ == nullptr) return;
  int socket = -1;
  int interest = 0;
  timeval tv{};
  int rc = zookeeper_interest(zh_, &socket, &interest, &tv);
  socket_fd_ = socket;
  if (rc != ZOK && rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT) {
    if (rc == ZINVALIDSTATE) expired_ = zoo_state(zh_) == ZOO_EXPIRED_SESSION_STATE;
    timeout_ms = std::min(timeout_ms < 0 ? 1000 : timeout_ms, 1000);
    return;
  }
  long wait = tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
  if (timeout_ms < 0 || wait < timeout_ms) timeout_ms = static_cast<int>(wait);
  if (socket >= 0) {
    fd.fd = socket;
    fd.events =
        static_cast<short>(((interest & ZOOKEEPER_READ) ? POLLIN : 0) | ((interest & ZOOKEEPER_WRITE) ? POLLOUT : 0));
  }
}

void ZooKeeperClient::process(short revents) {
  if (expired_) {
    reopen_session();
    return;
  }
  if (zh_ == nullptr) return;
  int events =
      ((revents & (POLLIN | POLLHUP | POLLERR)) ? ZOOKEEPER_READ : 0) | ((revents & POLLOUT) ? ZOOKEEPER_WRITE : 0);
  zookeeper_process(zh_, events);
  if (expired_) reopen_session();
}

ZooKeeperClient::Call* ZooKeeperClient::call(std::string path, std::string child) {
  return new Call{this, session_, std::move(path), std::move(child)};
}

// ---- discovery ----

void ZooKeeperClient::set_watched_paths(const std::vector<std::string>& paths) {
  for (auto it = watched_.begin(); it != watched_.end();) {
    bool kept = std::find(paths.begin(), paths.end(), it->first) != paths.end();
    if (!kept) published_.erase(it->first);
    it = kept ? std::next(it) : watched_.erase(it);
  }
  for (const auto& path : paths) {
    if (watched_.count(path) > 0) continue;
    watched_[path];
    if (connected_) read_children(path);
  }
}

bool ZooKeeperClient::all_synced() const {
  return std::all_of(watched_.begin(), watched_.end(), [](const auto& entry) { return entry.second.synced; });
}

void ZooKeeperClient::read_children(const std::string& path) {
  Call* c = call(path);
  if (zoo_aget_children(zh_, path.c_str(), 1, &ZooKeeperClient::on_children, c) != ZOK) delete c;
}

void ZooKeeperClient::read_child(const std::string& path, const std::string& child) {
  Call* c = call(path, child);
  if (zoo_aget(zh_, join_path(path, child).c_str(), 1, &ZooKeeperClient::on_child_data, c) != ZOK) delete c;
}

void ZooKeeperClient::on_children(int rc, const String_vector* strings, const void* data) {
  std::unique_ptr<const Call> c(static_cast<const Call*>(data));
  if (rc == ZCLOSING || c->session != c->client->session_) return;
  ZooKeeperClient& self = *c->client;
  auto found = self.watched_.find(c->path);
  if (found == self.watched_.end()) return;
  Watched& watched = found->second;
  if (rc == ZNONODE) {
    if (!watched.missing_logged)
      LOG_WARN("zookeeper: %s does not exist; no endpoints there until it is created", c->path.c_str());
    watched.missing_logged = true;
    watched.children.clear();
    watched.synced = true;
    Call* exists = self.call(c->path);
    if (zoo_aexists(self.zh_, c->path.c_str(), 1, &ZooKeeperClient::on_exists, exists) != ZOK) delete exists;
    self.publish_if_complete(c->path);
    return;
  }
  if (rc != ZOK) {
    // Connection loss: on_connected() reads it again. Anything else keeps the last known nodes.
    if (rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT)
      LOG_ERROR("zookeeper: cannot list %s: %s; keeping its last known endpoints", c->path.c_str(), zerror(rc));
    return;
  }
  watched.missing_logged = false;
  std::vector<std::string> names;
  for (int i = 0; i < strings->count; ++i) names.emplace_back(strings->data[i]);
  std::sort(names.begin(), names.end());
  if (names.size() > kMaxNodesPerPath) {
    LOG_WARN("zookeeper: %s has %zu children; using the first %zu by name", c->path.c_str(), names.size(),
             kMaxNodesPerPath);
    names.resize(kMaxNodesPerPath);
  }
  std::erase_if(watched.children,
                [&](const auto& entry) { return !std::binary_search(names.begin(), names.end(), entry.first); });
  for (const auto& name : names) {
    if (watched.children.count(name) > 0) continue;
    watched.children[name];
    self.read_child(c->path, name);
  }
  watched.synced = true;
  self.publish_if_complete(c->path);
}

void ZooKeeperClient::on_exists(int rc, const Stat*, const void* data) {
  std::unique_ptr<const Call> c(static_cast<const Call*>(data));
  if (rc == ZCLOSING || c->session != c->client->session_) return;
  // Created between the listing and this check: its watch would never fire.
  if (rc == ZOK && c->client->watched_.count(c->path) > 0) c->client->read_children(c->path);
}

void ZooKeeperClient::on_child_data(int rc, const char* value, int length, const Stat*, const void* data) {
  std::unique_ptr<const Call> c(static_cast<const Call*>(data));
  if (rc == ZCLOSING || c->session != c->client->session_) return;
  ZooKeeperClient& self = *c->client;
  auto watched = self.watched_.find(c->path);
  if (watched == self.watched_.end()) return;
  auto child = watched->second.children.find(c->child);
  if (child == watched->second.children.end()) return;
  if (rc == ZNONODE) {
    watched->second.children.erase(child);
  } else if (rc == ZOK) {
    std::string error;
    Node node;
    node.name = c->child;
    std::string_view bytes(value != nullptr ? value : "",
                           value != nullptr && length > 0 ? static_cast<size_t>(length) : 0);
    child->second.valid = parse_node_data(bytes, node, error);
    child->second.fetched = true;
    if (child->second.valid)
      child->second.node = std::move(node);
    else
      LOG_WARN("zookeeper: skipping %s/%s: %s", c->path.c_str(), c->child.c_str(), error.c_str());
  } else {
    return;  // connection loss: on_connected() lists the path again
  }
  self.publish_if_complete(c->path);
}

// Publishes once every child has been read, so a burst of new nodes is one change, not many.
void ZooKeeperClient::publish_if_complete(const std::string& path) {
  const Watched& watched = watched_.at(path);
  std::vector<Node> nodes;
  for (const auto& [name, child] : watched.children) {
    if (!child.fetched) return;
    if (child.valid) nodes.push_back(child.node);
  }
  auto previous = published_.find(path);
  if (previous != published_.end() && previous->second == nodes) return;
  std::string added, removed;
  auto describe = [](const Node& node) { return " " + node.address.to_string() + " (" + node.name + ")"; };
  const std::vector<Node> none;
  const std::vector<Node>& before = previous != published_.end() ? previous->second : none;
  for (const Node& node : nodes)
    if (std::find(before.begin(), before.end(), node) == before.end()) added += describe(node);
  for (const Node& node : before)
    if (std::find(nodes.begin(), nodes.end(), node) == nodes.end()) removed += describe(node);
  LOG_INFO("zookeeper: %s: %zu endpoints%s%s%s%s", path.c_str(), nodes.size(),
           added.empty() ? "" : "; added:", added.c_str(), removed.empty() ? "" : "; removed:", removed.c_str());
  published_[path] = std::move(nodes);
  events_.on_nodes_changed(path);
}

// ---- registration ----

void ZooKeeperClient::set_registrations(const std::vector<Registration>& wanted) {
  for (auto& entry : registered_)
    entry.wanted = std::find(wanted.begin(), wanted.end(), entry.registration) != wanted.end();
  for (const auto& registration : wanted) {
    bool known = std::any_of(registered_.begin(), registered_.end(),
                             [&](const Registered& entry) { return entry.registration == registration; });
    if (!known) registered_.push_back(Registered{registration, NodeState::kWanted, true, {}});
  }
  sync_registrations();
}

bool ZooKeeperClient::registrations_settled() const {
  return std::all_of(registered_.begin(), registered_.end(), [](const Registered& entry) {
    return entry.state == NodeState::kWanted || (entry.state == NodeState::kCreated && entry.wanted);
  });
}

void ZooKeeperClient::sync_registrations() {
  std::erase_if(registered_,
                [](const Registered& entry) { return !entry.wanted && entry.state == NodeState::kWanted; });
  if (!connected_) return;
  for (auto& entry : registered_) {
    if (entry.wanted && entry.state == NodeState::kWanted) create_node(entry);
    if (!entry.wanted && entry.state == NodeState::kCreated) delete_node(entry);
  }
}

// The parents first (persistent, as the legacy layout has them), then the node. Requests on one
// session are applied in order, so the node's create sees its parents.
void ZooKeeperClient::create_node(Registered& entry) {
  const std::string& path = entry.registration.path;
  for (const auto& parent : ancestors(path + "/")) {
    Call* c = call(parent);
    if (zoo_acreate(zh_, parent.c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
                    &ZooKeeperClient::on_parent_created, c) != ZOK)
      delete c;
  }
  Call* c = call(path, entry.registration.data);
  const std::string& data = entry.registration.data;
  if (zoo_acreate(zh_, join_path(path, "rpc").c_str(), data.data(), static_cast<int>(data.size()), &ZOO_OPEN_ACL_UNSAFE,
                  ZOO_EPHEMERAL_SEQUENTIAL, &ZooKeeperClient::on_created, c) != ZOK) {
    delete c;
    return;
  }
  entry.state = NodeState::kCreating;
}

void ZooKeeperClient::on_parent_created(int rc, const char*, const void* data) {
  std::unique_ptr<const Call> c(static_cast<const Call*>(data));
  if (rc != ZOK && rc != ZNODEEXISTS && rc != ZCLOSING && rc != ZCONNECTIONLOSS)
    LOG_ERROR("zookeeper: cannot create %s: %s", c->path.c_str(), zerror(rc));
}

ZooKeeperClient::Registered* ZooKeeperClient::find_registered(const std::string& path, const std::string& key) {
  for (auto& entry : registered_)
    if (entry.registration.path == path && (entry.registration.data == key || entry.node == key)) return &entry;
  return nullptr;
}

void ZooKeeperClient::on_created(int rc, const char* value, const void* data) {
  std::unique_ptr<const Call> c(static_cast<const Call*>(data));
  if (rc == ZCLOSING || c->session != c->client->session_) return;
  ZooKeeperClient& self = *c->client;
  Registered* entry = self.find_registered(c->path, c->child);
  if (entry == nullptr) return;
  if (rc != ZOK) {
    // After a connection loss the node may exist all the same; on_connected() creates it again,
    // at worst a second node for the same address until the session ends (clients see the
    // same instance twice, nothing worse).
    entry->state = NodeState::kWanted;
    if (rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT)
      LOG_ERROR("zookeeper: cannot register under %s: %s", c->path.c_str(), zerror(rc));
    return;
  }
  entry->state = NodeState::kCreated;
  entry->node = value;
  LOG_INFO("zookeeper: registered %s as %s", entry->registration.data.c_str(), entry->node.c_str());
  if (!entry->wanted) self.delete_node(*entry);  // unwanted while it was being created
}

void ZooKeeperClient::delete_node(Registered& entry) {
  Call* c = call(entry.registration.path, entry.node);
  if (zoo_adelete(zh_, entry.node.c_str(), -1, &ZooKeeperClient::on_deleted, c) != ZOK) {
    delete c;
    return;
  }
  entry.state = NodeState::kDeleting;
}

void ZooKeeperClient::on_deleted(int rc, const void* data) {
  std::unique_ptr<const Call> c(static_cast<const Call*>(data));
  if (rc == ZCLOSING || c->session != c->client->session_) return;
  ZooKeeperClient& self = *c->client;
  Registered* entry = self.find_registered(c->path, c->child);
  if (entry == nullptr) return;
  if (rc == ZOK || rc == ZNONODE) {
    LOG_INFO("zookeeper: unregistered %s", entry->node.c_str());
    entry->state = NodeState::kWanted;
    entry->node.clear();
  } else {
    entry->state = NodeState::kCreated;  // connection loss: sync_registrations() tries again
  }
  self.sync_registrations();
}

size_t ZooKeeperClient::registered_count() const {
  return static_cast<size_t>(std::count_if(registered_.begin(), registered_.end(),
                                           [](const Registered& entry) { return entry.state == NodeState::kCreated; }));
}

uint64_t ZooKeeperClient::state_code() const {
  if (zh_ == nullptr) return 0;
  if (expired_) return 3;
  return connected_ ? 1 : 2;
}

}  // namespace rpcgate::discovery
