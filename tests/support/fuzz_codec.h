// What the codec fuzz targets share: how an input carries its read sizes, how a response is
// compared field by field, and the checks that end a run where libFuzzer sees it (a trap, with
// the input saved). For fuzz targets only: unit tests report through doctest instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/codec.h"
#include "codecs/json/json_writer.h"
#include "core/message.h"
#include "tests/support/codec_driver.h"

namespace rpcgate::test::fuzz {

// For a target whose seeds are made in code (no binary is committed): when the build asks for
// them (RPCGATE_FUZZ_WRITE_SEED, tests/fuzz/CMakeLists.txt), writes each seed into that directory
// under its name and exits; otherwise does nothing.
inline void write_seeds_if_asked(const std::vector<std::pair<std::string, std::string>>& seeds) {
  const char* dir = std::getenv("RPCGATE_FUZZ_WRITE_SEED");
  if (dir == nullptr) return;
  for (const auto& [name, seed] : seeds) std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << seed;
  std::exit(0);
}

// A fuzz input cut into its parts: `header_bytes` bytes, of which the last `read_bytes` choose
// the read sizes (1 + byte % `most`), then the stream.
struct Input {
  std::string_view header;
  Reads reads;
  std::string_view stream;
};

inline std::optional<Input> split_input(const uint8_t* data, size_t size, size_t header_bytes, size_t read_bytes,
                                        size_t most) {
  if (size < header_bytes) return std::nullopt;
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const std::string_view header = all.substr(0, header_bytes);
  return Input{header, reads_of(header.substr(header_bytes - read_bytes), most), all.substr(header_bytes)};
}

// The RESP targets' layout, text-friendly so that seeds stay readable: [options byte][k][k read
// sizes][stream]. The cuts are the input's reads (1 + byte % 32) and, for a stream of at most
// 1 KiB, byte at a time.
struct RespInput {
  uint8_t options = 0;
  std::vector<Reads> cuts;
  std::string_view stream;
};

inline std::optional<RespInput> split_resp_input(const uint8_t* data, size_t size) {
  if (size < 2) return std::nullopt;
  const auto* text = reinterpret_cast<const char*>(data);
  const size_t k = data[1] % 16;
  if (size < 2 + k) return std::nullopt;
  RespInput input;
  input.options = data[0];
  input.stream = std::string_view(text + 2 + k, size - 2 - k);
  if (k != 0) input.cuts.push_back(reads_of(std::string_view(text + 2, k), 32));
  if (input.stream.size() <= 1024) input.cuts.push_back({1});  // byte at a time
  return input;
}

// Every field of a response as text; the result as json_writer writes it, so that a NaN equals
// itself.
inline std::string text_of(const Response& r) {
  std::string text = std::string(error_code_name(r.error)) + '\n' + r.message + '\n' + r.kind + '\n' + r.payload + '\n';
  codec::json::write_json(r.result, text);
  if (r.id) text += '\n' + std::to_string(*r.id);
  return text;
}

// A client codec's transcript of `stream` in `reads`, in the words of text_of(); a breach of the
// decode contract ends the run.
inline std::string client_transcript(codec::ClientCodec& codec, std::string_view stream, const Reads& reads) {
  Fed fed;
  auto text = [](const Response& response) { return text_of(response); };
  std::string out = transcript(codec, stream, reads, &fed, text);
  if (!fed.breach.empty()) __builtin_trap();
  return out;
}

// `sent`, encoded by `server`, must read back through `client` as one whole frame equal to
// `expected`; else the run ends.
inline void check_round_trip(codec::ServerCodec& server, codec::ClientCodec& client, const Response& sent,
                             const Response& expected) {
  const std::string wire = encode(server, sent);
  const ClientDecoded back = decode_once(client, wire);
  if (back.result.status != codec::DecodeStatus::kAnswered || back.result.consumed != wire.size()) __builtin_trap();
  if (text_of(back.response) != text_of(expected)) __builtin_trap();
}

// `transcript(stream, reads)` must be the same whole and in each of `cuts`; else the run ends.
template <typename Transcript>
void check_same_in_pieces(std::string_view stream, const std::vector<Reads>& cuts, Transcript&& transcript) {
  if (!first_difference(stream, cuts, transcript).empty()) __builtin_trap();
}

}  // namespace rpcgate::test::fuzz
