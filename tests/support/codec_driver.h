// The gateway's read loop in miniature, for unit tests and fuzz targets alike: a stream arrives in
// reads, each read is appended to the bytes not yet consumed, and the codec decodes until it needs
// more. However the stream is cut, the results must be those of one whole read (STYLE.md, 1).
// Header-only, no test framework: breaches are returned, and each caller fails its own way.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "codecs/codec.h"
#include "core/message.h"

namespace rpcgate::test {

// Read sizes, taken in turn and cycled; none means the whole stream in one read.
using Reads = std::vector<size_t>;

enum class Side : uint8_t { kServer, kClient };

struct Fed {
  bool broken = false;      // stopped at kBroken, as the gateway does
  bool hung_up = false;     // stopped at kHangUp
  size_t left = 0;          // bytes never consumed: still buffered, or never read after kBroken
  std::string_view breach;  // the first breach of the decode contract (codec.h); stopped there
};

// What the codec.h contract forbids in `result`, decoded from `buffered` bytes; empty if nothing.
inline std::string_view contract_breach(Side side, const codec::DecodeResult& result, size_t buffered) {
  switch (result.status) {
    case codec::DecodeStatus::kNeedMore:
      return result.consumed == 0 ? "" : "kNeedMore consumed bytes";
    case codec::DecodeStatus::kBroken:
      return result.consumed == 0 ? "" : "kBroken consumed bytes";
    case codec::DecodeStatus::kOversized:
      return "decode() returned kOversized, which only skip() may";
    case codec::DecodeStatus::kRefused:
      return side == Side::kClient ? "" : "a server codec returned kRefused";
    case codec::DecodeStatus::kHangUp:
      if (side == Side::kClient) return "a client codec returned kHangUp";
      return result.consumed == 0 ? "" : "kHangUp consumed bytes";
    case codec::DecodeStatus::kCallOpened:
      if (side == Side::kClient) return "a client codec returned kCallOpened";
      [[fallthrough]];
    case codec::DecodeStatus::kConsumed:
      if (side == Side::kClient) return "a client codec returned kConsumed";
      [[fallthrough]];
    case codec::DecodeStatus::kRequest:
      if (side == Side::kClient) return "a client codec returned kRequest";
      [[fallthrough]];
    case codec::DecodeStatus::kAnswered:
      if (result.consumed == 0) return "a frame of no bytes";
      return result.consumed <= buffered ? "" : "consumed more bytes than it was given";
  }
  return "unknown decode status";
}

// Feeds `stream` in `reads` to `decode(std::string_view unconsumed) -> DecodeResult`.
template <typename Decode>
Fed feed(Side side, std::string_view stream, const Reads& reads, Decode&& decode) {
  Fed fed;
  std::string buffer;
  size_t at = 0;
  for (size_t i = 0; at < stream.size() && !fed.broken && !fed.hung_up; ++i) {
    const size_t want = reads.empty() ? stream.size() : std::max<size_t>(reads[i % reads.size()], 1);
    const size_t n = std::min(want, stream.size() - at);
    buffer.append(stream.substr(at, n));
    at += n;
    for (;;) {
      const codec::DecodeResult result = decode(std::string_view(buffer));
      fed.breach = contract_breach(side, result, buffer.size());
      if (!fed.breach.empty()) break;
      if (result.status == codec::DecodeStatus::kNeedMore) break;
      if (result.status == codec::DecodeStatus::kBroken) {
        fed.broken = true;
        break;
      }
      if (result.status == codec::DecodeStatus::kHangUp) {
        fed.hung_up = true;
        break;
      }
      buffer.erase(0, result.consumed);
    }
    if (!fed.breach.empty()) break;
  }
  fed.left = buffer.size() + (stream.size() - at);
  return fed;
}

inline constexpr std::string_view kBrokenWithoutError = "kBroken without an error to send";

// A server codec: `on_result(result, request, reply)` for every result but kNeedMore. The request
// and reply objects live across decodes, as in the gateway; the request may be moved from.
template <typename OnResult>
Fed feed_server(codec::ServerCodec& codec, std::string_view stream, const Reads& reads, OnResult&& on_result) {
  Request request;
  Response reply;
  Fed fed = feed(Side::kServer, stream, reads, [&](std::string_view input) {
    const codec::DecodeResult result = codec.decode(input, request, reply);
    // As the gateway does for a request that it does not forward as its frame.
    if (result.status == codec::DecodeStatus::kRequest) codec.complete_params(request);
    if (result.status != codec::DecodeStatus::kNeedMore) on_result(result, request, std::as_const(reply));
    return result;
  });
  if (fed.broken && fed.breach.empty() && !reply.is_error()) fed.breach = kBrokenWithoutError;
  return fed;
}

// A client codec: `on_result(result, response)` for every result but kNeedMore.
template <typename OnResult>
Fed feed_client(codec::ClientCodec& codec, std::string_view stream, const Reads& reads, OnResult&& on_result) {
  Response response;
  Fed fed = feed(Side::kClient, stream, reads, [&](std::string_view input) {
    const codec::DecodeResult result = codec.decode(input, response);
    if (result.status != codec::DecodeStatus::kNeedMore) on_result(result, std::as_const(response));
    return result;
  });
  if (fed.broken && fed.breach.empty() && !response.is_error()) fed.breach = kBrokenWithoutError;
  return fed;
}

// Codec options with these limits, everything else at its default.
inline codec::CodecOptions with_limits(size_t max_frame_bytes, size_t max_depth) {
  codec::CodecOptions options;
  options.limits.max_frame_bytes = max_frame_bytes;
  options.limits.max_depth = max_depth;
  return options;
}

// One decode of `input`, into request and reply objects of its own, params decoded (as the
// gateway has them decoded for a request it does not forward as its frame).
struct ServerDecoded {
  codec::DecodeResult result;
  Request request;
  Response reply;
};

inline ServerDecoded decode_once(codec::ServerCodec& codec, std::string_view input) {
  ServerDecoded d;
  d.result = codec.decode(input, d.request, d.reply);
  if (d.result.status == codec::DecodeStatus::kRequest) codec.complete_params(d.request);
  return d;
}

struct ClientDecoded {
  codec::DecodeResult result;
  Response response;
};

inline ClientDecoded decode_once(codec::ClientCodec& codec, std::string_view input) {
  ClientDecoded d;
  d.result = codec.decode(input, d.response);
  return d;
}

// What one encode() writes.
inline std::string encode(codec::ServerCodec& codec, const Response& response) {
  std::string out;
  codec.encode(response, out);
  return out;
}

inline std::string encode(codec::ClientCodec& codec, const Request& request) {
  std::string out;
  codec.encode(request, out);
  return out;
}

// Every error code but kNone, as far as error_code_name() knows names for: a code added to
// core/message.h is in the list without a test having to name it.
inline std::vector<ErrorCode> every_error_code() {
  std::vector<ErrorCode> codes;
  for (int n = 1; n <= 255; ++n) {
    const auto code = static_cast<ErrorCode>(n);
    if (error_code_from_name(error_code_name(code)) != code) break;
    codes.push_back(code);
  }
  return codes;
}

// One line per item, so that a failed comparison prints both sides readably.
inline std::string lines(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += item + "\n";
  return text;
}

// Messages as text: "method=m params=[1] id=2 meta:k=v payload=p", "kind=pong result=1 id=2",
// "error=BAD_REQUEST why id=2". Id, meta and payload only when present.
inline std::string describe(const Request& r) {
  std::string text = "method=" + r.method + " params=" + r.params.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (r.id) text += " id=" + std::to_string(*r.id);
  for (const auto& [key, value] : r.meta) text += " meta:" + key + "=" + value;
  if (!r.payload.empty()) text += " payload=" + r.payload;
  return text;
}

inline std::string describe(const Response& r) {
  std::string text =
      r.is_error() ? "error=" + std::string(error_code_name(r.error)) + " " + r.message
                   : "kind=" + r.kind + " result=" + r.result.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (r.id) text += " id=" + std::to_string(*r.id);
  if (!r.payload.empty()) text += " payload=" + r.payload;
  return text;
}

// How a transcript ends: "waiting with N bytes" if the stream ends inside a frame, "breach: ..."
// after a breach. Hands `fed` over to the caller who wants it.
inline std::string ending(const Fed& fed, Fed* out) {
  if (out != nullptr) *out = fed;
  if (!fed.breach.empty()) return "breach: " + std::string(fed.breach) + "\n";
  if (!fed.broken && fed.left != 0) return "waiting with " + std::to_string(fed.left) + " bytes\n";
  return {};
}

// describe() as a function object: how a transcript words messages unless told otherwise.
struct Describe {
  template <typename Message>
  std::string operator()(const Message& message) const {
    return describe(message);
  }
};

// A line per result, "request <request>", "answered <reply>" or "broken <reply>" (in the words of
// `text`, called with a Request or a Response); then ending().
template <typename Text = Describe>
std::string transcript(codec::ServerCodec& codec, std::string_view stream, const Reads& reads, Fed* fed = nullptr,
                       Text text = {}) {
  std::string out;
  auto on_result = [&](codec::DecodeResult r, const Request& request, const Response& reply) {
    if (r.status == codec::DecodeStatus::kRequest)
      out += "request " + text(request) + "\n";
    else
      out += (r.status == codec::DecodeStatus::kAnswered ? "answered " : "broken ") + text(reply) + "\n";
  };
  const std::string end = ending(feed_server(codec, stream, reads, on_result), fed);
  return out + end;
}

template <typename Text = Describe>
std::string transcript(codec::ClientCodec& codec, std::string_view stream, const Reads& reads, Fed* fed = nullptr,
                       Text text = {}) {
  std::string out;
  auto on_result = [&](codec::DecodeResult r, const Response& response) {
    out += (r.status == codec::DecodeStatus::kAnswered ? "answered " : "broken ") + text(response) + "\n";
  };
  const std::string end = ending(feed_client(codec, stream, reads, on_result), fed);
  return out + end;
}

// Read sizes a fuzz input chose: 1 + byte % most, for each of `bytes`.
inline Reads reads_of(std::string_view bytes, size_t most) {
  Reads reads;
  for (char byte : bytes) reads.push_back(1 + static_cast<uint8_t>(byte) % most);
  return reads;
}

// The cuts a decoder is checked with: byte at a time, a few odd cycles, and every cut into two.
inline std::vector<Reads> every_split(size_t size) {
  std::vector<Reads> all = {{1}, {3, 1, 7}, {4}};
  for (size_t cut = 1; cut < size; ++cut) all.push_back({cut, size});
  return all;
}

// Runs `transcript(stream, reads)` whole, then with each of `cuts`. Empty if all the transcripts
// are equal; else which cut differed, with both transcripts when they are text.
template <typename Transcript>
std::string first_difference(std::string_view stream, const std::vector<Reads>& cuts, Transcript&& transcript) {
  const auto whole = transcript(stream, Reads{});
  for (const Reads& reads : cuts) {
    const auto split = transcript(stream, reads);
    if (split == whole) continue;
    std::string sizes;
    for (size_t n : reads) sizes += (sizes.empty() ? "" : ",") + std::to_string(n);
    std::string difference = "reads of {" + sizes + "} differ from one read";
    if constexpr (std::is_same_v<std::decay_t<decltype(whole)>, std::string>)
      difference += ":\n" + split + "one read gives:\n" + whole;
    return difference;
  }
  return {};
}

// first_difference() over every_split().
template <typename Transcript>
std::string split_difference(std::string_view stream, Transcript&& transcript) {
  return first_difference(stream, every_split(stream.size()), transcript);
}

}  // namespace rpcgate::test
