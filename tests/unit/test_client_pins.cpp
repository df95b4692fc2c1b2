// ClientPins, the pinning policy of one client connection, on a real loop: a real cluster whose
// endpoint is a tiny RESP server run on the same loop (it answers +OK to every command), and a
// real RESP listener codec in front of it, as a Connection has them.
#include <doctest/doctest.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/cluster.h"
#include "backends/pin.h"
#include "backends/upstreams.h"
#include "codecs/resp/resp_codec.h"
#include "conf/config_loader.h"
#include "core/stats.h"
#include "gateway/calls.h"
#include "gateway/client_pins.h"
#include "gateway/pending_queue.h"

using namespace rpcgate;
using Verdict = ClientPins::Verdict;

namespace {

constexpr uint64_t kRunCapMs = 2000;
constexpr size_t kScratchBytes = 64 * 1024;

// Bytes of the first whole RESP command (an array of bulk strings) in `input`, or 0.
size_t whole_command(std::string_view input) {
  size_t at = 0;
  auto line = [&](char kind, long& value) {
    size_t end = input.find("\r\n", at);
    if (at >= input.size() || input[at] != kind || end == std::string_view::npos) return false;
    value = std::stol(std::string(input.substr(at + 1, end - at - 1)));
    at = end + 2;
    return true;
  };
  long count = 0;
  if (!line('*', count)) return 0;
  for (long i = 0; i < count; ++i) {
    long bytes = 0;
    if (!line('$', bytes) || input.size() < at + static_cast<size_t>(bytes) + 2) return 0;
    at += static_cast<size_t>(bytes) + 2;
  }
  return at;
}

// A stand-in Redis on 127.0.0.1: every connection it accepts gets +OK per command.
class OkServer {
 public:
  explicit OkServer(uv_loop_t* loop) {
    uv_tcp_init(loop, &listener_);
    listener_.data = this;
    sockaddr_in address{};
    uv_ip4_addr("127.0.0.1", 0, &address);
    REQUIRE(uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&address), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 16, &OkServer::on_connection) == 0);
    int length = sizeof address;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  int port() const { return port_; }
  size_t commands() const { return commands_; }
  void close() {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    for (auto& peer : peers_) uv_close(reinterpret_cast<uv_handle_t*>(&peer->tcp), nullptr);
  }

 private:
  struct Peer {
    OkServer* server;
    uv_tcp_t tcp{};
    std::string input;
    char buffer[4096];
  };

  static void on_connection(uv_stream_t* listener, int status) {
    if (status != 0) return;
    auto* self = static_cast<OkServer*>(listener->data);
    auto peer = std::make_unique<Peer>();
    peer->server = self;
    uv_tcp_init(listener->loop, &peer->tcp);
    peer->tcp.data = peer.get();
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&peer->tcp)) == 0)
      uv_read_start(reinterpret_cast<uv_stream_t*>(&peer->tcp), &OkServer::on_alloc, &OkServer::on_read);
    self->peers_.push_back(std::move(peer));
  }
  static void on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* peer = static_cast<Peer*>(handle->data);
    *buf = uv_buf_init(peer->buffer, sizeof peer->buffer);
  }
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* peer = static_cast<Peer*>(stream->data);
    if (nread <= 0) {
      if (nread < 0) uv_read_stop(stream);
      return;
    }
    peer->input.append(buf->base, static_cast<size_t>(nread));
    std::string replies;
    while (size_t bytes = whole_command(peer->input)) {
      peer->input.erase(0, bytes);
      replies += "+OK\r\n";
      ++peer->server->commands_;
    }
    uv_buf_t out = uv_buf_init(replies.data(), replies.size());
    if (!replies.empty()) uv_try_write(stream, &out, 1);  // a few bytes: the kernel takes them
  }

  uv_tcp_t listener_{};
  std::vector<std::unique_ptr<Peer>> peers_;
  int port_ = 0;
  size_t commands_ = 0;
};

// What a Connection is to ClientPins: the owner of the calls, in request order.
struct Client final : CallOwner {
  explicit Client(std::unique_ptr<codec::ServerCodec> server_codec)
      : codec(std::move(server_codec)), pins(codec->session(), *this) {
    codec->session()->set_connection_id(1);
  }
  ~Client() {
    // As Connection::close: calls withdrawn first, then the pins closed.
    pending.drain(abandon_call);
    pins.close();
  }

  // Decodes `frame` as the listener does and hands it to `cluster` as Connection::call_cluster.
  Verdict send(backends::Cluster& cluster, const std::string& frame, PendingCall** made = nullptr) {
    PendingCall* call = new_call(this);
    Response spot;
    REQUIRE(codec->decode(frame, call->request, spot).status == codec::DecodeStatus::kRequest);
    call->response.id = call->request.id;
    cluster.prepare(call, nullptr);
    std::string_view forward = codec->forward_frame(frame, call->request);
    call->upstream.passthrough = !forward.empty();
    call->upstream.wire.assign(forward);
    // As Connection::call_cluster: params decoded where the cluster reads them.
    if (!call->upstream.passthrough || cluster.reads_params()) codec->complete_params(call->request);
    Verdict verdict = pins.attach(cluster, call, pending);
    if (made != nullptr) *made = call;
    if (verdict != Verdict::kSend) {
      answers.push_back(call->response);
      free_call(call);
      if (made != nullptr) *made = nullptr;
      return verdict;
    }
    pending.push_back(call);
    cluster.submit(call);
    if (call->done) {
      pins.on_call_done(call, pending);
      pending.remove(call);
      answers.push_back(call->response);
      free_call(call);
      if (made != nullptr) *made = nullptr;
    }
    return verdict;
  }

  void on_call_done(PendingCall* call) override {
    pins.on_call_done(call, pending);
    ++done;
  }

  std::unique_ptr<codec::ServerCodec> codec;
  PendingQueue pending;
  ClientPins pins;
  std::vector<Response> answers;  // made here or refused, never sent upstream
  size_t done = 0;                // calls answered by an upstream
};

// A loop with a stand-in Redis and three RESP clusters before it: `cache` and `other`, and
// `full`, whose max_pinned is 0.
struct Fixture {
  Fixture() {
    uv_loop_init(&loop);
    server = std::make_unique<OkServer>(&loop);
    sharded_server = std::make_unique<OkServer>(&loop);  // its router's questions counted apart
    std::string endpoint = "127.0.0.1:" + std::to_string(server->port());
    std::string sharded_endpoint = "127.0.0.1:" + std::to_string(sharded_server->port());
    config = conf::load_config_string(
        "listeners: [{name: r, address: 127.0.0.1:1, codec: resp}]\n"
        "routes:\n  - {match: {glob: \"*\"}, cluster: cache}\n"
        "clusters:\n"
        "  - {name: cache, codec: resp, endpoints: [" +
            endpoint +
            "]}\n"
            "  - {name: other, codec: resp, endpoints: [" +
            endpoint +
            "]}\n"
            "  - {name: full, codec: resp, endpoints: [" +
            endpoint +
            "], max_pinned: 0}\n"
            "  - {name: sharded, codec: resp, redis_cluster: true, endpoints: [" +
            sharded_endpoint + "]}\n",
        "pins.yaml");
    stats = StatsTable::create(1);
    upstreams = std::make_unique<backends::Upstreams>(&loop, config, stats->slot(0), scratch, kScratchBytes);
    std::string error;
    REQUIRE(upstreams->start(error));
    cache = upstreams->find("cache");
    other = upstreams->find("other");
    full = upstreams->find("full");
    sharded = upstreams->find("sharded");
    codec::CodecOptions options;
    options.upstream = &cache->config().codec_options;
    client = std::make_unique<Client>(codec::resp::make_server_codec(options));
  }
  ~Fixture() {
    client.reset();
    bool closed = false;
    upstreams->close([&] { closed = true; });
    run_until([&] { return closed; });
    upstreams.reset();
    server->close();
    sharded_server->close();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }

  // Turns the loop until `ready` holds, for at most kRunCapMs; returns whether it held.
  template <typename Ready>
  bool run_until(Ready ready) {
    uint64_t start = uv_hrtime();
    while (!ready()) {
      if (uv_hrtime() - start > kRunCapMs * 1'000'000) return false;
      uv_run(&loop, UV_RUN_NOWAIT);
    }
    return true;
  }

  uv_loop_t loop{};
  char scratch[kScratchBytes];
  std::unique_ptr<OkServer> server;
  std::unique_ptr<OkServer> sharded_server;
  conf::Config config;
  std::unique_ptr<StatsTable> stats;
  std::unique_ptr<backends::Upstreams> upstreams;
  backends::Cluster* cache = nullptr;
  backends::Cluster* other = nullptr;
  backends::Cluster* full = nullptr;
  backends::Cluster* sharded = nullptr;  // redis_cluster: true (its stand-in knows no map)
  std::unique_ptr<Client> client;
};

std::string command(std::initializer_list<std::string> words) {
  std::string frame = "*" + std::to_string(words.size()) + "\r\n";
  for (const std::string& word : words) frame += "$" + std::to_string(word.size()) + "\r\n" + word + "\r\n";
  return frame;
}

}  // namespace

TEST_CASE("a request a shared connection may carry attaches no pin") {
  Fixture f;
  PendingCall* call = nullptr;
  CHECK(f.client->send(*f.cache, command({"GET", "k"}), &call) == Verdict::kSend);
  REQUIRE(call != nullptr);
  CHECK(call->upstream.pin == nullptr);
  CHECK(f.client->pins.empty());
  CHECK_FALSE(f.client->pins.blocked());
  CHECK(f.client->pins.tunnel() == nullptr);
  CHECK(f.run_until([&] { return f.client->done == 1; }));
}

TEST_CASE("MULTI opens a pin, and the client's later calls to that cluster take it") {
  Fixture f;
  PendingCall* multi = nullptr;
  CHECK(f.client->send(*f.cache, command({"MULTI"}), &multi) == Verdict::kSend);
  backends::Pin* pin = f.client->pins.pin_for(f.cache);
  REQUIRE(pin != nullptr);
  CHECK(multi->upstream.pin == pin);
  CHECK_FALSE(pin->waiting_for_earlier());  // nothing was sent before it
  PendingCall* get = nullptr;
  CHECK(f.client->send(*f.cache, command({"GET", "k"}), &get) == Verdict::kSend);
  CHECK(get->upstream.pin == pin);  // a shareable request, but behind MULTI on the client's own
  CHECK(f.run_until([&] { return f.client->done == 2; }));
  CHECK(f.server->commands() == 2);
}

TEST_CASE("each cluster gets a pin of its own") {
  Fixture f;
  f.client->send(*f.cache, command({"MULTI"}));
  f.client->send(*f.other, command({"MULTI"}));
  backends::Pin* cache_pin = f.client->pins.pin_for(f.cache);
  backends::Pin* other_pin = f.client->pins.pin_for(f.other);
  REQUIRE(cache_pin != nullptr);
  REQUIRE(other_pin != nullptr);
  CHECK(cache_pin != other_pin);
  CHECK(&other_pin->cluster() == f.other);
  CHECK(f.client->pins.pin_for(f.full) == nullptr);
  CHECK(f.run_until([&] { return f.client->done == 2; }));
}

TEST_CASE("SELECT 0 is answered here while the client has no pin, and forwarded once it has one") {
  Fixture f;
  CHECK(f.client->send(*f.cache, command({"SELECT", "0"})) == Verdict::kAnswered);
  REQUIRE(f.client->answers.size() == 1);
  CHECK_FALSE(f.client->answers[0].is_error());
  CHECK(f.client->pins.empty());
  f.client->send(*f.cache, command({"MULTI"}));
  PendingCall* select = nullptr;
  CHECK(f.client->send(*f.cache, command({"SELECT", "0"}), &select) == Verdict::kSend);
  CHECK(select->upstream.pin == f.client->pins.pin_for(f.cache));
  CHECK(f.run_until([&] { return f.client->done == 2; }));
}

TEST_CASE("a blocking command holds the client's input until it is answered") {
  Fixture f;
  CHECK(f.client->send(*f.cache, command({"BLPOP", "list", "0"})) == Verdict::kSend);
  CHECK(f.client->pins.pin_for(f.cache) != nullptr);
  CHECK(f.client->pins.blocked());
  CHECK(f.run_until([&] { return f.client->done == 1; }));  // the stand-in answers at once
  CHECK_FALSE(f.client->pins.blocked());
}

TEST_CASE("SUBSCRIBE makes its pin the client's tunnel") {
  Fixture f;
  PendingCall* subscribe = nullptr;
  CHECK(f.client->send(*f.cache, command({"SUBSCRIBE", "news"}), &subscribe) == Verdict::kSend);
  REQUIRE(f.client->pins.tunnel() != nullptr);
  CHECK(f.client->pins.tunnel() == f.client->pins.pin_for(f.cache));
  CHECK(subscribe->upstream.starts_stream);
  CHECK_FALSE(f.client->pins.blocked());
}

TEST_CASE("a new pin waits for the client's earlier shared call to its cluster, and goes once it is answered") {
  Fixture f;
  PendingCall* get = nullptr;
  f.client->send(*f.cache, command({"GET", "k"}), &get);
  f.client->send(*f.other, command({"MULTI"}));
  CHECK_FALSE(f.client->pins.pin_for(f.other)->waiting_for_earlier());  // the GET went to another cluster
  f.client->send(*f.cache, command({"MULTI"}));
  backends::Pin* pin = f.client->pins.pin_for(f.cache);
  REQUIRE(pin != nullptr);
  CHECK(pin->waiting_for_earlier());
  CHECK(f.run_until([&] { return !pin->waiting_for_earlier(); }));
  CHECK(get->done);
  CHECK(f.run_until([&] { return f.client->done == 3; }));
}

TEST_CASE("max_pinned reached: the call is refused with the cluster's error, and no pin is kept") {
  Fixture f;
  CHECK(f.client->send(*f.full, command({"MULTI"})) == Verdict::kRefused);
  REQUIRE(f.client->answers.size() == 1);
  CHECK(f.client->answers[0].error == ErrorCode::kOverloaded);
  CHECK(f.client->answers[0].message.find("max_pinned") != std::string::npos);
  CHECK(f.client->pins.empty());
  CHECK(f.client->pending.empty());
}

TEST_CASE("a sharded cluster: MULTI is answered here, and the transaction's first command opens the pin") {
  Fixture f;
  CHECK(f.client->send(*f.sharded, command({"MULTI"})) == Verdict::kAnswered);
  REQUIRE(f.client->answers.size() == 1);
  CHECK(f.client->answers[0].status == "OK");
  CHECK(f.client->pins.empty());
  PendingCall* set = nullptr;
  CHECK(f.client->send(*f.sharded, command({"SET", "k", "v"}), &set) == Verdict::kSend);
  backends::Pin* pin = f.client->pins.pin_for(f.sharded);
  REQUIRE(pin != nullptr);
  CHECK(set->upstream.pin == pin);
  CHECK(pin->hold().transaction);
  CHECK(f.run_until([&] { return f.client->done == 1; }));
  CHECK(f.client->pins.pin_for(f.sharded) == pin);  // still inside the transaction
  CHECK(f.client->send(*f.sharded, command({"EXEC"})) == Verdict::kSend);
  CHECK(f.run_until([&] { return f.client->done == 2; }));
  // The session is over: the pin is given up, and the next call goes shared, by its key.
  CHECK(f.client->pins.empty());
  PendingCall* get = nullptr;
  CHECK(f.client->send(*f.sharded, command({"GET", "k"}), &get) == Verdict::kSend);
  CHECK(get->upstream.pin == nullptr);
  CHECK(f.run_until([&] { return f.client->done == 3; }));
}

TEST_CASE("a sharded cluster: MULTI then EXEC or DISCARD with nothing between never reach it") {
  Fixture f;
  CHECK(f.client->send(*f.sharded, command({"MULTI"})) == Verdict::kAnswered);
  CHECK(f.client->send(*f.sharded, command({"MULTI"})) == Verdict::kAnswered);
  CHECK(f.client->send(*f.sharded, command({"EXEC"})) == Verdict::kAnswered);
  CHECK(f.client->send(*f.sharded, command({"MULTI"})) == Verdict::kAnswered);
  CHECK(f.client->send(*f.sharded, command({"DISCARD"})) == Verdict::kAnswered);
  REQUIRE(f.client->answers.size() == 5);
  CHECK(f.client->answers[1].message == "ERR MULTI calls can not be nested");
  CHECK(f.client->answers[2].result == Json::array());
  CHECK(f.client->answers[4].status == "OK");
  CHECK(f.client->pins.empty());
  // Not deferring any more: EXEC goes to Redis, which says there is no MULTI.
  CHECK(f.client->send(*f.sharded, command({"EXEC"})) == Verdict::kSend);
  CHECK(f.run_until([&] { return f.client->done == 1; }));
}

TEST_CASE("a sharded cluster: a blocking command's pin is given up once it is answered, a subscription's kept") {
  Fixture f;
  CHECK(f.client->send(*f.sharded, command({"BLPOP", "list", "0"})) == Verdict::kSend);
  CHECK(f.client->pins.pin_for(f.sharded) != nullptr);
  CHECK(f.run_until([&] { return f.client->done == 1; }));
  CHECK(f.client->pins.empty());
  CHECK(f.client->send(*f.sharded, command({"WATCH", "k"})) == Verdict::kSend);
  CHECK(f.run_until([&] { return f.client->done == 2; }));
  CHECK_FALSE(f.client->pins.empty());  // watching
  CHECK(f.client->send(*f.sharded, command({"UNWATCH"})) == Verdict::kSend);
  CHECK(f.run_until([&] { return f.client->done == 3; }));
  CHECK(f.client->pins.empty());
  CHECK(f.client->send(*f.sharded, command({"CLIENT", "TRACKING", "on"})) == Verdict::kSend);
  CHECK(f.run_until([&] { return f.client->done == 4; }));
  CHECK_FALSE(f.client->pins.empty());  // state this side does not follow: the client's for good
}

TEST_CASE("a plain cluster keeps a client's pin after EXEC") {
  Fixture f;
  f.client->send(*f.cache, command({"MULTI"}));
  f.client->send(*f.cache, command({"EXEC"}));
  CHECK(f.run_until([&] { return f.client->done == 2; }));
  CHECK(f.client->pins.pin_for(f.cache) != nullptr);
}
