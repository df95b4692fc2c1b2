// The codec part of a listener's or a cluster's section: the codec's name, the limits every codec
// shares, and the option keys each codec declares (CodecInfo::options), read without naming any.
#include "conf/codec_settings.h"

#include <algorithm>
#include <limits>

namespace rpcgate::conf {
namespace {

// Upper bounds catch typos (an extra zero) and values the code cannot honour; they are not advice.
constexpr size_t kMaxFrameBytes = 0xFFFF'FFFF;  // the largest 4-byte length prefix
constexpr uint64_t kMaxDepth = 1024;

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

bool on_side(const codec::CodecOption& option, std::string_view owner) {
  using Side = codec::CodecOption::Side;
  return option.side == Side::kBoth || (option.side == Side::kListener) == (owner == "listener");
}

}  // namespace

std::vector<std::string_view> section_keys(std::span<const std::string_view> own, std::string_view owner) {
  std::vector<std::string_view> keys(own.begin(), own.end());
  for (const codec::CodecInfo* info : codec::all_codecs())
    for (const codec::CodecOption& option : info->options)
      if (on_side(option, owner) && std::find(keys.begin(), keys.end(), option.key) == keys.end())
        keys.push_back(option.key);
  return keys;
}

namespace {

// Reads one declared option's value and stores it (CodecOption::apply, or `extra`).
void read_codec_option(MapReader& map, const codec::CodecOption& option, codec::CodecOptions& options) {
  using Kind = codec::CodecOption::Kind;
  codec::CodecOption::Value value;
  bool valid = false;
  switch (option.kind) {
    case Kind::kSize: {
      size_t size = 0;
      valid = map.read_size(option.key, size, option.min, option.max);
      value.number = size;
      break;
    }
    case Kind::kInteger:
      valid = map.read_integer(option.key, value.number, option.min, option.max);
      break;
    case Kind::kChoice:
      valid = map.read_choice(option.key, value.text, option.choices);
      break;
    case Kind::kBool:
      valid = map.read_bool(option.key, value.flag);
      break;
    case Kind::kString:
      valid = map.read_string(option.key, value.text);
      break;
    case Kind::kStringList:
      if (auto field = map.get(option.key)) {
        valid = true;
        for (const Field& item : read_list(map.context(), *field)) {
          auto text = read_string(map.context(), item);
          if (text)
            value.items.push_back(std::move(*text));
          else
            valid = false;
        }
      }
      break;
  }
  if (!valid) return;
  if (option.apply != nullptr) {
    option.apply(options, value);
    return;
  }
  Json& slot = options.extra[std::string(option.key)];
  switch (option.kind) {
    case Kind::kSize:
    case Kind::kInteger:
      slot = value.number;
      break;
    case Kind::kBool:
      slot = value.flag;
      break;
    case Kind::kChoice:
    case Kind::kString:
      slot = value.text;
      break;
    case Kind::kStringList:
      slot = value.items;
      break;
  }
}

}  // namespace

void read_codec_settings(MapReader& map, std::string_view owner, std::string& codec_name,
                         codec::CodecOptions& options) {
  ReadContext& ctx = map.context();
  std::string name;
  const codec::CodecInfo* codec = nullptr;
  if (map.read_string("codec", name)) {
    codec = codec::find_codec(name);
    if (codec != nullptr) {
      codec_name = name;
    } else {
      std::vector<std::string_view> known;
      for (const codec::CodecInfo* info : codec::all_codecs()) known.push_back(info->name);
      ctx.error(map.key_line("codec"), child_path(map.path(), "codec"),
                "unknown codec " + in_quotes(name) + did_you_mean(name, known) +
                    "; expected one of: " + codec::codec_names());
    }
  }
  if (codec != nullptr && owner == "cluster" && codec->cluster_defaults != nullptr) codec->cluster_defaults(options);

  // Each declared key present, once: read with its codec's declaration, or refused when the
  // section's codec is another one (with no codec known, the first declaration checks the value).
  std::vector<std::string_view> seen;
  for (const codec::CodecInfo* info : codec::all_codecs()) {
    for (const codec::CodecOption& option : info->options) {
      if (!on_side(option, owner) || !map.has(option.key)) continue;
      if (std::find(seen.begin(), seen.end(), option.key) != seen.end()) continue;
      seen.push_back(option.key);
      const codec::CodecOption* own = nullptr;
      std::string owners;
      size_t owner_count = 0;
      for (const codec::CodecInfo* other : codec::all_codecs()) {
        for (const codec::CodecOption& candidate : other->options) {
          if (candidate.key != option.key || !on_side(candidate, owner)) continue;
          if (other == codec) own = &candidate;
          owners += (owners.empty() ? "" : " and ") + std::string(other->name);
          ++owner_count;
        }
      }
      if (codec == nullptr || own != nullptr) {
        read_codec_option(map, own != nullptr ? *own : option, options);
        continue;
      }
      ctx.error(map.key_line(option.key), child_path(map.path(), option.key),
                std::string(option.key) + " applies to the " + owners + (owner_count > 1 ? " codecs" : " codec") +
                    " only" + (option.note.empty() ? "" : " (" + std::string(option.note) + ")") + "; this " +
                    std::string(owner) + "'s codec is " + codec_name);
    }
  }
  map.read_size("max_frame_bytes", options.limits.max_frame_bytes, 1, kMaxFrameBytes);
  map.read_integer("max_depth", options.limits.max_depth, 1, kMaxDepth);
  if (codec != nullptr && codec->check != nullptr) {
    auto [key, problem] = codec->check(options);
    if (!key.empty()) {
      ctx.error(map.key_line(key), child_path(map.path(), key), problem);
      return;
    }
  }
  if (codec != nullptr && codec->load != nullptr) {
    auto [key, problem] = codec->load(options);
    if (!key.empty()) ctx.error(map.key_line(key), child_path(map.path(), key), problem);
  }
}

}  // namespace rpcgate::conf
