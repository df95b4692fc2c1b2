// The admin port's HTTP request parser and response writer as pure code: valid requests, every
// bound at N and N+1, garbage, every split point. The server over sockets: test_admin_server.cpp.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "admin/http_request.h"

using namespace rpcgate::admin;
using Status = HttpRequestParser::Status;

namespace {

HttpRequest parsed(std::string_view bytes) {
  HttpRequestParser parser;
  CAPTURE(bytes);
  REQUIRE_MESSAGE(parser.feed(bytes) == Status::kComplete, parser.error());
  return parser.request();
}

// The status a refused request is answered with, after checking that it says why.
int refusal(std::string_view bytes, HttpLimits limits = {}) {
  HttpRequestParser parser(limits);
  CAPTURE(bytes.substr(0, 200));
  REQUIRE(parser.feed(bytes) == Status::kError);
  CHECK_FALSE(parser.error().empty());
  CHECK(parser.error().find('\n') == std::string::npos);
  return parser.error_status();
}

// A GET whose request line and headers are exactly `size` bytes, padded in one header.
std::string get_with_head_of(size_t size) {
  std::string head = "GET / HTTP/1.1\r\nX-Pad: \r\n\r\n";
  head.insert(head.find("\r\n\r\n"), size - head.size(), 'a');
  return head;
}

std::string get_with_url_of(size_t size) { return "GET /" + std::string(size - 1, 'u') + " HTTP/1.1\r\n\r\n"; }

std::string post_with_body(const std::string& body) {
  return "POST /config HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

bool same(const HttpRequest& a, const HttpRequest& b) {
  return a.method == b.method && a.path == b.path && a.query == b.query && a.body == b.body;
}

}  // namespace

TEST_CASE("a GET parses into method, path and an empty query and body") {
  HttpRequest request = parsed("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9901\r\nAccept: */*\r\n\r\n");
  CHECK(request.method == "GET");
  CHECK(request.path == "/metrics");
  CHECK(request.query.empty());
  CHECK(request.body.empty());
  CHECK(parsed("GET / HTTP/1.0\r\n\r\n").path == "/");
  CHECK(parsed("HEAD /healthz HTTP/1.1\r\n\r\n").method == "HEAD");
}

TEST_CASE("a POST keeps its body, sized or chunked") {
  HttpRequest sized = parsed(post_with_body(R"({"level":"debug"})"));
  CHECK(sized.method == "POST");
  CHECK(sized.path == "/config");
  CHECK(sized.body == R"({"level":"debug"})");
  HttpRequest chunked =
      parsed("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  CHECK(chunked.body == "abcde");
}

TEST_CASE("the query is split off the path, kept as sent") {
  HttpRequest request = parsed("GET /stats?format=json&x=%20 HTTP/1.1\r\n\r\n");
  CHECK(request.path == "/stats");
  CHECK(request.query == "format=json&x=%20");
  CHECK(parsed("GET /stats? HTTP/1.1\r\n\r\n").query.empty());
  HttpRequest absolute = parsed("GET http://127.0.0.1:9901/metrics?a=1 HTTP/1.1\r\n\r\n");
  CHECK(absolute.path == "/metrics");
  CHECK(absolute.query == "a=1");
  CHECK(parsed("GET http://127.0.0.1:9901 HTTP/1.1\r\n\r\n").path == "/");
}

TEST_CASE("what follows the first request is never parsed") {
  HttpRequestParser parser;
  CHECK(parser.feed("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n\x16\x03\x01 junk") == Status::kComplete);
  CHECK(parser.request().path == "/a");
  CHECK(parser.feed("more junk \x00\xff") == Status::kComplete);
  CHECK(parser.request().path == "/a");
  CHECK(parsed(post_with_body("abc") + "trailing junk").body == "abc");
}

TEST_CASE("request line and headers: 8 KiB pass, one byte more is 431") {
  CHECK(get_with_head_of(8192).size() == 8192);
  CHECK(parsed(get_with_head_of(8192)).path == "/");
  CHECK(refusal(get_with_head_of(8193)) == 431);
  // A header that never ends is refused at the bound, not when the client gives up.
  HttpRequestParser parser;
  CHECK(parser.feed("GET / HTTP/1.1\r\nX: " + std::string(8192, 'a')) == Status::kError);
  CHECK(parser.error_status() == 431);
  CHECK(parser.error() == "request line and headers exceed 8192 bytes");
  // Exactly at the bound with the head unfinished: refused without waiting for another byte.
  HttpRequestParser at_bound;
  CHECK(at_bound.feed(get_with_head_of(8193).substr(0, 8192)) == Status::kError);
  CHECK(at_bound.error_status() == 431);
}

TEST_CASE("URL: 2 KiB pass, one byte more is 414") {
  CHECK(parsed(get_with_url_of(2048)).path.size() == 2048);
  CHECK(refusal(get_with_url_of(2049)) == 414);
  CHECK(refusal("GET /?" + std::string(4000, 'q') + " HTTP/1.1\r\n\r\n") == 414);
  // Longer than the head bound too: still the URL's own answer.
  CHECK(refusal("GET /" + std::string(20000, 'u')) == 414);
}

TEST_CASE("body: 64 KiB pass, one byte more is 413, refused from Content-Length alone") {
  CHECK(parsed(post_with_body(std::string(65536, 'b'))).body.size() == 65536);
  CHECK(refusal(post_with_body(std::string(65537, 'b'))) == 413);
  HttpRequestParser parser;
  CHECK(parser.feed("POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n") == Status::kError);
  CHECK(parser.error_status() == 413);
  CHECK(parser.error() == "body exceeds 65536 bytes");
  CHECK(refusal("POST / HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n") == 413);
  std::string chunk(40000, 'c');
  std::string chunked =
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n9c40\r\n" + chunk + "\r\n9c40\r\n" + chunk;
  CHECK(refusal(chunked) == 413);
}

TEST_CASE("the bounds are data: each is enforced at N and N+1 as given") {
  HttpLimits small{64, 16, 8};
  HttpRequestParser ok(small);
  CHECK(ok.feed("POST /123456789012345 HTTP/1.1\r\nContent-Length: 8\r\n\r\n12345678") == Status::kComplete);
  CHECK(refusal("POST /1234567890123456 HTTP/1.1\r\n\r\n", small) == 414);
  CHECK(refusal("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n", small) == 413);
  CHECK(refusal("GET / HTTP/1.1\r\nX: " + std::string(60, 'x') + "\r\n\r\n", small) == 431);
}

TEST_CASE("garbage is 400 with http-parser's reason") {
  CHECK(refusal("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03") == 400);  // a TLS ClientHello
  CHECK(refusal("HELLO / HTTP/1.1\r\n\r\n") == 400);
  CHECK(refusal("GET / HTTP/9.Z\r\n\r\n") == 400);
  CHECK(refusal("GET /a b c\r\n\r\n") == 400);
  CHECK(refusal("GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n") == 400);
  CHECK(refusal("GET / HTTP/1.1\r\nBad Header\r\n\r\n") == 400);
  CHECK(refusal("OPTIONS * HTTP/1.1\r\n\r\n") == 400);  // names no path
  CHECK(refusal("CONNECT 127.0.0.1:9901 HTTP/1.1\r\n\r\n") == 400);
  HttpRequestParser parser;
  CHECK(parser.feed("HELLO") == Status::kError);
  CHECK(parser.error() == "malformed request: invalid HTTP method");
  CHECK(parser.feed("GET / HTTP/1.1\r\n\r\n") == Status::kError);  // stays refused
}

TEST_CASE("a request fed one byte at a time, or split anywhere, parses as when fed whole") {
  const std::vector<std::string> requests = {
      "GET /metrics?name=x HTTP/1.1\r\nHost: h\r\n\r\n",
      post_with_body("hello, body"),
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
  };
  for (const auto& whole : requests) {
    CAPTURE(whole);
    HttpRequest expected = parsed(whole);
    HttpRequestParser byte_by_byte;
    Status status = Status::kNeedMore;
    for (size_t i = 0; i < whole.size(); ++i) {
      REQUIRE(status == Status::kNeedMore);
      status = byte_by_byte.feed(std::string_view(whole).substr(i, 1));
    }
    REQUIRE(status == Status::kComplete);
    CHECK(same(byte_by_byte.request(), expected));
    for (size_t split = 0; split <= whole.size(); ++split) {
      HttpRequestParser parser;
      parser.feed(std::string_view(whole).substr(0, split));
      REQUIRE(parser.feed(std::string_view(whole).substr(split)) == Status::kComplete);
      CHECK(same(parser.request(), expected));
    }
  }
  // The 431 bound counts bytes, however they arrive.
  std::string over = get_with_head_of(8193);
  HttpRequestParser slow;
  Status status = Status::kNeedMore;
  for (size_t i = 0; i < over.size() && status == Status::kNeedMore; ++i) status = slow.feed(over.substr(i, 1));
  CHECK(status == Status::kError);
  CHECK(slow.error_status() == 431);
}

TEST_CASE("a response serializes with its length and Connection: close") {
  HttpResponse response;
  response.body = "ok\n";
  CHECK(serialize(response) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\nConnection: "
        "close\r\n\r\nok\n");
  response.status = 431;
  response.content_type = "application/json";
  response.body.clear();
  CHECK(serialize(response) ==
        "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n");
  CHECK(reason_phrase(503) == "Service Unavailable");
  CHECK(reason_phrase(599) == "Unknown");
}

TEST_CASE("query_value: the named value, percent-decoded; absent is nullopt") {
  CHECK(query_value("level=debug", "level") == "debug");
  CHECK(query_value("a=1&level=warn&b=2", "level") == "warn");
  CHECK(query_value("levels=x&level=info", "level") == "info");
  CHECK(query_value("reason=kernel+upgrade%21", "reason") == "kernel upgrade!");
  CHECK(query_value("level", "level") == "");
  CHECK(query_value("level=", "level") == "");
  CHECK(query_value("", "level") == std::nullopt);
  CHECK(query_value("other=1", "level") == std::nullopt);
  CHECK(query_value("r=%zz%4", "r") == "%zz%4");  // malformed escapes stay as written
  CHECK(query_value("r=%41%4a", "r") == "AJ");
}
