// The admin port's HTTP/1.1 request parser and response writer: pure code over bytes, no I/O.
// The request syntax is http-parser's; this file adds the bounds an admin port needs and the
// answer (400, 413, 414, 431) each violation gets.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct http_parser;  // <http_parser.h> stays out of the master's includes

namespace rpcgate::admin {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // "/metrics": no query, never empty
  std::string query;   // what follows '?', may be empty
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Every bound is checked as the bytes arrive, before they are buffered: a Content-Length over
// the body bound is refused when the headers end, not after 64 KiB have been read.
struct HttpLimits {
  size_t max_head_bytes = 8 * 1024;   // request line + headers, CRLFs included (else 431)
  size_t max_url_bytes = 2 * 1024;    // the request target as sent, query included (else 414)
  size_t max_body_bytes = 64 * 1024;  // after chunked decoding (else 413)
};

// Parses ONE request: the admin port answers one request per connection and closes, so bytes
// after the first request (pipelined or junk) are never looked at.
class HttpRequestParser {
 public:
  enum class Status { kNeedMore, kComplete, kError };

  explicit HttpRequestParser(HttpLimits limits = {});
  ~HttpRequestParser();
  // http_parser points back at its owner: one parser per connection, never copied or moved.
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Feeds the next bytes of the request. Once kComplete or kError, later calls change nothing
  // and return the same status.
  Status feed(std::string_view bytes);

  Status status() const { return status_; }
  // Valid after kComplete.
  const HttpRequest& request() const { return request_; }
  // After kError: the status to answer (400, 413, 414 or 431) and a one-line reason.
  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }

 private:
  static int on_url(http_parser* parser, const char* at, size_t length);
  static int on_headers_complete(http_parser* parser);
  static int on_body(http_parser* parser, const char* at, size_t length);
  static int on_message_complete(http_parser* parser);

  Status fail(int status, std::string reason);
  bool split_url();

  HttpLimits limits_;
  std::unique_ptr<http_parser> parser_;
  Status status_ = Status::kNeedMore;
  size_t head_bytes_ = 0;  // fed while the headers were not complete
  bool headers_done_ = false;
  std::string url_;       // the raw request target, split into path and query at the end
  int error_status_ = 0;  // set by a callback that refuses, or by fail()
  std::string error_;
  HttpRequest request_;
};

// "HTTP/1.1 <status> <reason>\r\nContent-Type: ...\r\nContent-Length: N\r\nConnection: close\r\n\r\n<body>"
std::string serialize(const HttpResponse& response);

// The value of `name` in a query string or a form body ("level=debug&x=1"), percent-decoded
// and '+' read as a space; nullopt when the name is absent. A malformed escape stays as written.
std::optional<std::string> query_value(std::string_view query, std::string_view name);

// The reason phrase for `status` ("Not Found"), or "Unknown" for a status HTTP does not name.
std::string_view reason_phrase(int status);

}  // namespace rpcgate::admin
