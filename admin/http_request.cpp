#include "admin/http_request.h"

#include <http_parser.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace rpcgate::admin {
namespace {

// How a callback refuses: any value but 0 stops http_parser. on_headers_complete gives 1 and 2
// meanings of their own (skip the body, upgrade), so every refusal uses -1.
constexpr int kRefuse = -1;

http_parser_settings make_settings(http_data_cb on_url, http_cb on_headers_complete, http_data_cb on_body,
                                   http_cb on_message_complete) {
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_url = on_url;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_message_complete = on_message_complete;
  return settings;
}

}  // namespace

HttpRequestParser::HttpRequestParser(HttpLimits limits) : limits_(limits), parser_(std::make_unique<http_parser>()) {
  http_parser_init(parser_.get(), HTTP_REQUEST);
  parser_->data = this;
}

HttpRequestParser::~HttpRequestParser() = default;

HttpRequestParser::Status HttpRequestParser::feed(std::string_view bytes) {
  static const http_parser_settings kSettings =
      make_settings(&on_url, &on_headers_complete, &on_body, &on_message_complete);
  while (status_ == Status::kNeedMore && !bytes.empty()) {
    // Until the headers end, http_parser sees no more than the head bound allows, so an endless
    // header line is refused at the bound instead of at http_parser's own 80 KiB.
    size_t chunk = bytes.size();
    if (!headers_done_) {
      if (head_bytes_ >= limits_.max_head_bytes) break;
      chunk = std::min(chunk, limits_.max_head_bytes - head_bytes_);
    }
    size_t parsed = http_parser_execute(parser_.get(), &kSettings, bytes.data(), chunk);
    if (status_ != Status::kNeedMore) break;                     // the request completed (the parser is paused)
    if (error_status_ != 0) return fail(error_status_, error_);  // a bound a callback enforced
    if (auto code = HTTP_PARSER_ERRNO(parser_.get()); code != HPE_OK)
      return fail(400, std::string("malformed request: ") + http_errno_description(code));
    // Stopping early without an error is an upgrade; on_message_complete has run by then, so
    // this is only a guard against a library that behaves otherwise.
    if (parsed != chunk) return fail(400, "malformed request: protocol upgrade is not supported");
    if (!headers_done_) head_bytes_ += parsed;
    bytes.remove_prefix(chunk);
  }
  // A head that fills the bound without ending is over it: the blank line is still to come.
  if (status_ == Status::kNeedMore && !headers_done_ && head_bytes_ >= limits_.max_head_bytes)
    return fail(431, "request line and headers exceed " + std::to_string(limits_.max_head_bytes) + " bytes");
  return status_;
}

HttpRequestParser::Status HttpRequestParser::fail(int status, std::string reason) {
  status_ = Status::kError;
  error_status_ = status;
  error_ = std::move(reason);
  return status_;
}

int HttpRequestParser::on_url(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpRequestParser*>(parser->data);
  if (self->url_.size() + length > self->limits_.max_url_bytes) {
    self->error_status_ = 414;
    self->error_ = "URL exceeds " + std::to_string(self->limits_.max_url_bytes) + " bytes";
    return kRefuse;
  }
  self->url_.append(at, length);
  return 0;
}

int HttpRequestParser::on_headers_complete(http_parser* parser) {
  auto* self = static_cast<HttpRequestParser*>(parser->data);
  self->headers_done_ = true;
  // http_parser leaves content_length at ULLONG_MAX when there is no Content-Length (no body,
  // or chunked: on_body bounds those bytes as they come).
  if (parser->content_length != ULLONG_MAX && parser->content_length > self->limits_.max_body_bytes) {
    self->error_status_ = 413;
    self->error_ = "body exceeds " + std::to_string(self->limits_.max_body_bytes) + " bytes";
    return kRefuse;
  }
  return 0;
}

int HttpRequestParser::on_body(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpRequestParser*>(parser->data);
  if (self->request_.body.size() + length > self->limits_.max_body_bytes) {
    self->error_status_ = 413;
    self->error_ = "body exceeds " + std::to_string(self->limits_.max_body_bytes) + " bytes";
    return kRefuse;
  }
  self->request_.body.append(at, length);
  return 0;
}

int HttpRequestParser::on_message_complete(http_parser* parser) {
  auto* self = static_cast<HttpRequestParser*>(parser->data);
  // Pausing stops http_parser here, so whatever follows the request is never parsed.
  http_parser_pause(parser, 1);
  self->request_.method = http_method_str(static_cast<http_method>(parser->method));
  if (!self->split_url()) {
    self->fail(400, "malformed request: the target is not a path");
    return 0;
  }
  self->status_ = Status::kComplete;
  return 0;
}

// The path is kept as sent (no percent-decoding): the admin routes are plain ASCII.
bool HttpRequestParser::split_url() {
  http_parser_url parts;
  http_parser_url_init(&parts);
  // url_ is at most max_url_bytes; http_parser_url's offsets are 16-bit.
  if (url_.size() > UINT16_MAX || http_parser_parse_url(url_.data(), url_.size(), 0, &parts) != 0) return false;
  auto field = [&](http_parser_url_fields which) {
    if ((parts.field_set & (1u << which)) == 0) return std::string();
    return url_.substr(parts.field_data[which].off, parts.field_data[which].len);
  };
  request_.path = field(UF_PATH);
  request_.query = field(UF_QUERY);
  // An absolute target with no path ("http://host") asks for the root; "*" names no resource.
  if (request_.path.empty() && (parts.field_set & (1u << UF_HOST)) != 0) request_.path = "/";
  return !request_.path.empty() && request_.path.front() == '/';
}

std::string_view reason_phrase(int status) {
  const char* text = http_status_str(static_cast<http_status>(status));
  if (std::strcmp(text, "<unknown>") == 0) return "Unknown";
  return text;
}

std::optional<std::string> query_value(std::string_view query, std::string_view name) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  while (!query.empty()) {
    size_t end = std::min(query.find('&'), query.size());
    std::string_view pair = query.substr(0, end);
    query.remove_prefix(std::min(end + 1, query.size()));
    size_t equals = std::min(pair.find('='), pair.size());
    if (pair.substr(0, equals) != name) continue;
    std::string_view raw = pair.substr(std::min(equals + 1, pair.size()));
    std::string value;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value += ' ';
      } else if (raw[i] == '%' && i + 2 < raw.size() && hex(raw[i + 1]) >= 0 && hex(raw[i + 2]) >= 0) {
        value += static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
        i += 2;
      } else {
        value += raw[i];
      }
    }
    return value;
  }
  return std::nullopt;
}

std::string serialize(const HttpResponse& response) {
  std::string length = std::to_string(response.body.size());
  std::string out;
  out.reserve(96 + response.content_type.size() + response.body.size());
  out.append("HTTP/1.1 ").append(std::to_string(response.status)).append(" ").append(reason_phrase(response.status));
  out.append("\r\nContent-Type: ").append(response.content_type);
  out.append("\r\nContent-Length: ").append(length);
  out.append("\r\nConnection: close\r\n\r\n");
  out.append(response.body);
  return out;
}

}  // namespace rpcgate::admin
