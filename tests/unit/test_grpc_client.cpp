// The grpc codec's client side against its server side (two nghttp2 sessions, one each way): a
// request translated through descriptors reaches the server as the same request, its answer comes
// back as the same result, fed whole and a byte at a time; errors carry their status both ways;
// several streams share the connection and are matched by id; an encode that cannot translate
// says so and writes nothing; an answer over max_message_bytes fails its call alone; GOAWAY
// refuses the streams above its last id and takes no new requests.
#include <doctest/doctest.h>
#include <nghttp2/nghttp2.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "codecs/grpc/grpc_codec.h"
#include "tests/support/pi_descriptors.h"

using namespace rpcgate;
using namespace rpcgate::codec;

namespace {

const std::string& descriptor_file() {
  REQUIRE(!test::pi_descriptor_file().empty());
  return test::pi_descriptor_file();
}

CodecOptions grpc_options(Json extra = Json::object()) {
  CodecOptions options;
  options.extra = std::move(extra);
  options.extra["unwrap"] = true;
  options.extra["descriptors"] = {descriptor_file()};
  const auto loaded = grpc::kInfo.load(options);  // no structured binding: clang 14 cannot capture one
  REQUIRE_MESSAGE(loaded.first.empty(), loaded.second);
  return options;
}

// A client codec and a server codec joined by two byte pipes.
struct Link {
  explicit Link(Json client_extra = Json::object(), Json server_extra = Json::object())
      : client(grpc::make_client_codec(grpc_options(std::move(client_extra)))),
        server(grpc::make_server_codec(grpc_options(std::move(server_extra)))) {
    client->connected_to("127.0.0.1:1");
    server->take_output(to_client);
  }

  // Feeds the server what the client wrote; returns the requests it decoded.
  std::vector<Request> serve() {
    std::vector<Request> requests;
    client->take_output(to_server);
    for (;;) {
      Request request;
      Response reply;
      DecodeResult result = server->decode(to_server, request, reply);
      if (result.status == DecodeStatus::kNeedMore) break;
      REQUIRE(result.status != DecodeStatus::kBroken);
      to_server.erase(0, result.consumed);
      if (result.status == DecodeStatus::kRequest) requests.push_back(std::move(request));
      if (result.status == DecodeStatus::kAnswered) server->encode(reply, to_client);
    }
    server->take_output(to_client);
    return requests;
  }

  // Feeds the client what the server wrote, `step` bytes at a time (0: all at once); returns the
  // replies and refusals it reported.
  std::vector<std::pair<DecodeStatus, Response>> receive(size_t step = 0) {
    std::vector<std::pair<DecodeStatus, Response>> out;
    std::string input;
    size_t fed = 0;
    while (fed < to_client.size() || !input.empty()) {
      const size_t n = step == 0 ? to_client.size() - fed : std::min(step, to_client.size() - fed);
      input.append(to_client, fed, n);
      fed += n;
      for (;;) {
        Response response;
        DecodeResult result = client->decode(input, response);
        if (result.status == DecodeStatus::kNeedMore) break;
        REQUIRE_MESSAGE(result.status != DecodeStatus::kBroken, response.message);
        input.erase(0, result.consumed);
        if (result.status != DecodeStatus::kConsumed) out.emplace_back(result.status, std::move(response));
      }
      if (n == 0) break;
    }
    to_client.clear();
    client->take_output(to_server);
    return out;
  }

  Request call(uint64_t id, std::string method, Json params) {
    Request request;
    request.id = id;
    request.method = std::move(method);
    request.params = std::move(params);
    return request;
  }

  std::unique_ptr<ClientCodec> client;
  std::unique_ptr<ServerCodec> server;
  std::string to_server;
  std::string to_client;
};

// The value of `name` in the first HEADERS frame of `wire` (a client's output, preface first),
// through nghttp2's own HPACK decoder.
std::string request_header(const std::string& wire, std::string_view name) {
  constexpr size_t kPreface = 24, kFrameHeader = 9;
  size_t at = kPreface;
  while (at + kFrameHeader <= wire.size()) {
    const auto* frame = reinterpret_cast<const uint8_t*>(wire.data() + at);
    const size_t length = (size_t{frame[0]} << 16) | (size_t{frame[1]} << 8) | frame[2];
    if (frame[3] != NGHTTP2_HEADERS) {
      at += kFrameHeader + length;
      continue;
    }
    REQUIRE((frame[4] & (NGHTTP2_FLAG_PADDED | NGHTTP2_FLAG_PRIORITY)) == 0);  // not what the codec sends
    nghttp2_hd_inflater* inflater = nullptr;
    REQUIRE(nghttp2_hd_inflate_new(&inflater) == 0);
    std::string value;
    const uint8_t* block = frame + kFrameHeader;
    size_t left = length;
    for (;;) {
      nghttp2_nv header;
      int flags = 0;
      ssize_t used = nghttp2_hd_inflate_hd2(inflater, &header, &flags, block, left, 1);
      REQUIRE(used >= 0);
      block += used;
      left -= static_cast<size_t>(used);
      if ((flags & NGHTTP2_HD_INFLATE_EMIT) != 0 &&
          std::string_view(reinterpret_cast<const char*>(header.name), header.namelen) == name)
        value.assign(reinterpret_cast<const char*>(header.value), header.valuelen);
      if ((flags & NGHTTP2_HD_INFLATE_FINAL) != 0) break;
      if (used == 0 && left == 0) break;
    }
    nghttp2_hd_inflate_del(inflater);
    return value;
  }
  return {};
}

}  // namespace

TEST_CASE("grpc client: :scheme is https towards an upstream reached over TLS, http otherwise") {
  for (bool tls : {false, true}) {
    CAPTURE(tls);
    CodecOptions options = grpc_options();
    options.upstream_tls = tls;
    auto client = grpc::make_client_codec(options);
    client->connected_to("127.0.0.1:1");
    Request request;
    request.id = 1;
    request.method = "pi.PiCalculator/Calc";
    request.params = 10;
    std::string wire;
    client->encode(request, wire);
    client->take_output(wire);
    CHECK(request_header(wire, ":scheme") == (tls ? "https" : "http"));
    CHECK(request_header(wire, ":authority") == "127.0.0.1:1");
  }
}

TEST_CASE("grpc client: a call translated both ways, the answer fed whole and a byte at a time") {
  for (size_t step : {size_t{0}, size_t{1}, size_t{7}}) {
    Link link;
    Request request = link.call(41, "pi.PiCalculator/Calc", 1000);
    request.meta = {{"timeout_ms", "1500"}, {"x-trace", "abc"}, {"Bad Name", "dropped"}};
    link.client->encode(request, link.to_server);
    Response unused;
    CHECK_FALSE(link.client->encode_failed(unused));
    CHECK(link.to_server.starts_with("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));  // the preface, first
    auto requests = link.serve();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].method == "pi.PiCalculator/Calc");
    CHECK(requests[0].params == 1000);
    // grpc-timeout is 1500m, back as timeout_ms; the custom header travels, the invalid one not.
    CHECK(requests[0].meta == Meta{{"timeout_ms", "1500"}, {"x-trace", "abc"}});

    Response answer;
    answer.id = requests[0].id;
    answer.result = 3.14159;
    link.server->encode(answer, link.to_client);
    auto replies = link.receive(step);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].first == DecodeStatus::kAnswered);
    CHECK(replies[0].second.id == 41u);
    CHECK_FALSE(replies[0].second.is_error());
    CHECK(replies[0].second.result == 3.14159);
  }
}

TEST_CASE("grpc client: an error status comes back as the error code it maps to, with its message") {
  Link link;
  link.client->encode(link.call(1, "pi.PiCalculator/Calc", 5), link.to_server);
  auto requests = link.serve();
  REQUIRE(requests.size() == 1);
  Response error;
  error.id = requests[0].id;
  error.set_error(ErrorCode::kBadRequest, "n must be 100% positive");
  link.server->encode(error, link.to_client);
  auto replies = link.receive();
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].second.error == ErrorCode::kBadRequest);
  CHECK(replies[0].second.message == "n must be 100% positive");
}

TEST_CASE("grpc client and server: metadata and the upstream's own status pass through as they came") {
  Link link;
  link.client->encode(link.call(1, "pi.PiCalculator/Calc", 5), link.to_server);
  link.client->encode(link.call(2, "pi.PiCalculator/Calc", 6), link.to_server);
  link.client->encode(link.call(3, "pi.PiCalculator/Calc", 7), link.to_server);
  auto requests = link.serve();
  REQUIRE(requests.size() == 3);
  Response answer;  // OK: response headers and trailers with custom metadata
  answer.id = requests[0].id;
  answer.result = 2.5;
  answer.meta = {{"x-first", "1"}, {"Bad Name", "dropped"}, {"x-raw-bin", "AAH+/w=="}};
  answer.trailers = {{"x-last", "2"}, {"te", "dropped"}};
  link.server->encode(answer, link.to_client);
  Response refused;  // a code rpcgate's table lacks (FAILED_PRECONDITION), its message as it came
  refused.id = requests[1].id;
  refused.set_error(ErrorCode::kUpstreamError, "ignored: the upstream's own status wins");
  refused.trailers = {{"grpc-status", "9"}, {"grpc-message", "not%20yet"}, {"x-why", "because"}};
  link.server->encode(refused, link.to_client);
  Response own;  // rpcgate's own error, with metadata before it: headers, then trailers
  own.id = requests[2].id;
  own.set_error(ErrorCode::kTimeout, "too slow");
  own.meta = {{"x-early", "yes"}};
  link.server->encode(own, link.to_client);

  auto replies = link.receive();
  REQUIRE(replies.size() == 3);
  std::map<uint64_t, Response> by_id;
  for (auto& reply : replies) by_id[*reply.second.id] = std::move(reply.second);
  CHECK_FALSE(by_id[1].is_error());
  CHECK(by_id[1].result == 2.5);
  CHECK(by_id[1].meta == Meta{{"x-first", "1"}, {"x-raw-bin", "AAH+/w=="}});
  CHECK(by_id[1].trailers == Meta{{"x-last", "2"}});
  CHECK(by_id[2].error == ErrorCode::kUpstreamError);
  CHECK(by_id[2].message == "not yet");
  CHECK(by_id[2].meta.empty());  // trailers-only: its metadata is trailing
  CHECK(by_id[2].trailers == Meta{{"grpc-status", "9"}, {"grpc-message", "not%20yet"}, {"x-why", "because"}});
  CHECK(by_id[3].error == ErrorCode::kTimeout);
  CHECK(by_id[3].meta == Meta{{"x-early", "yes"}});
  CHECK(by_id[3].trailers == Meta{{"grpc-status", "4"}, {"grpc-message", "too slow"}});
}

TEST_CASE("grpc client: streams share the connection and answers match by id in any order") {
  Link link;
  for (uint64_t id = 1; id <= 3; ++id)
    link.client->encode(link.call(id * 10, "pi.PiCalculator/Calc", id), link.to_server);
  auto requests = link.serve();
  REQUIRE(requests.size() == 3);
  for (auto it = requests.rbegin(); it != requests.rend(); ++it) {  // answered last first
    Response answer;
    answer.id = it->id;
    answer.result = it->params.get<int>() * 2.5;
    link.server->encode(answer, link.to_client);
  }
  auto replies = link.receive();
  REQUIRE(replies.size() == 3);
  for (const auto& [status, reply] : replies) {
    REQUIRE(reply.id);
    CHECK(reply.result == static_cast<double>(*reply.id / 10) * 2.5);
  }
}

TEST_CASE("grpc client: a request that cannot be translated fails without writing anything") {
  Link link;
  Response error;
  std::string out;
  link.client->encode(link.call(1, "pi.PiCalculator/Nope", 1), out);
  CHECK(out.empty());
  REQUIRE(link.client->encode_failed(error));
  CHECK(error.error == ErrorCode::kUnknownMethod);
  CHECK(error.message.find("not in the cluster's descriptors") != std::string::npos);
  link.client->encode(link.call(2, "pi.PiCalculator/Calc", "not a number"), out);
  CHECK(out.empty());
  REQUIRE(link.client->encode_failed(error));
  CHECK(error.error == ErrorCode::kBadRequest);
  CHECK_FALSE(link.client->encode_failed(error));  // told once
}

TEST_CASE("grpc client: an answer over max_message_bytes fails its call alone, at N and N+1") {
  // PiResponse{value} is 9 bytes: field tag and a double.
  for (size_t limit : {size_t{9}, size_t{8}}) {
    Link link(Json{{"max_message_bytes", limit}});
    link.client->encode(link.call(1, "pi.PiCalculator/Calc", 1), link.to_server);
    link.client->encode(link.call(2, "pi.PiCalculator/Calc", 2), link.to_server);
    auto requests = link.serve();
    REQUIRE(requests.size() == 2);
    for (const Request& request : requests) {
      Response answer;
      answer.id = request.id;
      answer.result = request.params.get<int>() == 1 ? 2.5 : 0.0;  // 0.0 is an empty message
      link.server->encode(answer, link.to_client);
    }
    auto replies = link.receive();
    REQUIRE(replies.size() == 2);
    for (const auto& [status, reply] : replies) {
      if (reply.id == 1u && limit == 8) {
        CHECK(reply.error == ErrorCode::kTooLarge);
      } else {
        CHECK_FALSE(reply.is_error());
      }
    }
  }
}

TEST_CASE("grpc client: GOAWAY refuses the streams above its last id and takes no new request") {
  Link link;
  link.client->encode(link.call(1, "pi.PiCalculator/Calc", 1), link.to_server);
  auto requests = link.serve();
  REQUIRE(requests.size() == 1);
  CHECK(link.client->max_in_flight() == 100);  // the listener's max_concurrent_streams
  link.server->begin_drain();                  // GOAWAY naming stream 1
  link.client->encode(link.call(2, "pi.PiCalculator/Calc", 2), link.to_server);
  link.server->take_output(link.to_client);
  auto replies = link.receive();
  CHECK(link.client->max_in_flight() == 0);
  // Stream 3 was opened after the GOAWAY was sent: refused, never acted on, unless nghttp2
  // held it back itself, in which case it is refused on reading the GOAWAY.
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].first == DecodeStatus::kRefused);
  CHECK(replies[0].second.id == 2u);
  Response answer;
  answer.id = requests[0].id;
  answer.result = 1.5;
  link.server->encode(answer, link.to_client);
  replies = link.receive();
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].second.result == 1.5);
}
