#include "codecs/grpc/grpc_message.h"

#include <zlib.h>

#include <algorithm>

namespace rpcgate::codec::grpc {

uint32_t announced_length(std::string_view prefix) {
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(prefix[i])); };
  return byte(1) << 24 | byte(2) << 16 | byte(3) << 8 | byte(4);
}

size_t body_bound(std::string_view held, std::string_view more) {
  size_t size = held.size() + more.size();
  if (held.size() < kPrefixBytes && size >= kPrefixBytes) {
    std::string prefix(held);
    prefix.append(more.substr(0, kPrefixBytes - held.size()));
    size = std::max<size_t>(size, kPrefixBytes + announced_length(prefix));
  }
  return size;
}

bool cut_message(std::string_view body, bool& compressed, std::string_view& message, std::string& error) {
  if (body.size() < kPrefixBytes) {
    error = body.empty() ? "the call carries no message" : "the message prefix is cut short";
    return false;
  }
  const uint8_t flag = static_cast<uint8_t>(body[0]);
  if (flag > 1) {
    error = "the message prefix has an unknown compressed flag " + std::to_string(flag);
    return false;
  }
  const uint32_t length = announced_length(body);
  if (body.size() - kPrefixBytes != length) {
    error =
        body.size() - kPrefixBytes < length ? "the message is cut short" : "a unary call carries more than one message";
    return false;
  }
  compressed = flag == 1;
  message = body.substr(kPrefixBytes);
  return true;
}

void append_message(std::string_view message, std::string& out) {
  const auto length = static_cast<uint32_t>(message.size());
  const char prefix[kPrefixBytes] = {0, static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                                     static_cast<char>(length >> 8), static_cast<char>(length)};
  out.append(prefix, kPrefixBytes);
  out.append(message);
}

bool gunzip(std::string_view compressed, size_t max_bytes, std::string& out, std::string& error, bool& too_large) {
  too_large = false;
  out.clear();
  z_stream stream{};
  // 16 + MAX_WBITS: a gzip header and trailer around the deflate data, as grpc-encoding: gzip is.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    error = "cannot start zlib";
    return false;
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  char chunk[16 * 1024];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof chunk;
    rc = inflate(&stream, Z_NO_FLUSH);
    const size_t produced = sizeof chunk - stream.avail_out;
    // Checked before keeping the bytes: a small bomb never grows `out` past the bound.
    if (out.size() + produced > max_bytes) {
      too_large = true;
      error = "the message inflates to more than " + std::to_string(max_bytes) + " bytes";
      inflateEnd(&stream);
      out.clear();
      return false;
    }
    out.append(chunk, produced);
    if (rc == Z_BUF_ERROR && stream.avail_in == 0) break;  // input ended before the gzip trailer
  }
  const bool whole = rc == Z_STREAM_END && stream.avail_in == 0;
  inflateEnd(&stream);
  if (!whole) {
    error = "the message is not valid gzip data";
    out.clear();
    return false;
  }
  return true;
}

}  // namespace rpcgate::codec::grpc
