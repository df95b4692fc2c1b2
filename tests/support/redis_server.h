// A real redis-server for unit tests that hold pure RESP code against Redis itself: started (with
// cluster support, or without) on a free loopback port in a directory of its own, asked through
// hiredis's synchronous client, stopped by its PID. Header-only, for doctest.
#pragma once

#include <doctest/doctest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace rpcgate::test {

using Reply = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

class RedisServer {
 public:
  enum class Mode : uint8_t { kClusterNode, kStandalone };
  explicit RedisServer(Mode mode = Mode::kClusterNode) {
    char dir_template[] = "/tmp/rpcgate-redis-XXXXXX";
    REQUIRE(mkdtemp(dir_template) != nullptr);
    dir_ = dir_template;
    port_ = free_port();
    std::vector<std::string> args = {"redis-server", "--bind", "127.0.0.1", "--port", std::to_string(port_),
                                     "--cluster-enabled", mode == Mode::kClusterNode ? "yes" : "no",
                                     "--cluster-node-timeout", "1000", "--dir", dir_, "--save", "", "--appendonly",
                                     "no", "--logfile", dir_ + "/redis.log",
                                     // A replica syncs at once, not after the 5 s Redis waits for more replicas.
                                     "--repl-diskless-sync-delay", "0"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    REQUIRE(posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) == 0);
    for (int i = 0; i < 500 && context_ == nullptr; ++i) {
      context_ = connect();
      if (context_ == nullptr) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE_MESSAGE(context_ != nullptr, "redis-server did not start on port " << port_);
  }
  ~RedisServer() {
    if (context_ != nullptr) redisFree(context_);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }

  Reply ask(const std::vector<std::string>& words) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& word : words) {
      argv.push_back(word.data());
      lengths.push_back(word.size());
    }
    void* reply = redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data());
    REQUIRE(reply != nullptr);
    return Reply(static_cast<redisReply*>(reply), &freeReplyObject);
  }

  std::string text(const std::vector<std::string>& words) {
    Reply reply = ask(words);
    return reply->str != nullptr ? std::string(reply->str, reply->len) : std::string();
  }

  // A command's reply as the bytes it came as, read on a connection of its own until a reader
  // says the reply is whole.
  std::string raw(const std::vector<std::string>& words) {
    redisContext* context = connect();
    REQUIRE(context != nullptr);
    std::string request = "*" + std::to_string(words.size()) + "\r\n";
    for (const std::string& word : words) request += "$" + std::to_string(word.size()) + "\r\n" + word + "\r\n";
    REQUIRE(write(context->fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
    std::string bytes;
    char buffer[65536];
    redisReader* reader = redisReaderCreate();
    void* parsed = nullptr;
    while (parsed == nullptr) {
      ssize_t n = read(context->fd, buffer, sizeof buffer);
      REQUIRE(n > 0);
      bytes.append(buffer, static_cast<size_t>(n));
      redisReaderFeed(reader, buffer, static_cast<size_t>(n));
      REQUIRE(redisReaderGetReply(reader, &parsed) == REDIS_OK);
    }
    freeReplyObject(parsed);
    redisReaderFree(reader);
    redisFree(context);
    return bytes;
  }

 private:
  // A port free now, below 55536: a cluster node also listens on its port + 10000 (its bus).
  static uint16_t free_port() {
    for (;;) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
      socklen_t length = sizeof address;
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
      close(fd);
      if (ntohs(address.sin_port) < 55536) return ntohs(address.sin_port);
    }
  }

  redisContext* connect() const {
    redisContext* context = redisConnect("127.0.0.1", port_);
    if (context != nullptr && context->err == 0) return context;
    if (context != nullptr) redisFree(context);
    return nullptr;
  }

  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  redisContext* context_ = nullptr;
};

}  // namespace rpcgate::test
