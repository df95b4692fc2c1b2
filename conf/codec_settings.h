// The codec part of a listener's or a cluster's section (conf/config_sections.cpp).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codecs/codec.h"
#include "conf/yaml_reader.h"

namespace rpcgate::conf {

// The keys a listener's or cluster's section (`owner`: "listener" or "cluster") allows: its
// `own`, then every option some codec declares for that side. One owned by another codec than
// the section's is then refused by read_codec_settings with a message that says whose it is.
std::vector<std::string_view> section_keys(std::span<const std::string_view> own, std::string_view owner);

// `codec` and the limits every codec shares, then the options the codec declares. An option that
// belongs to another codec is an error rather than silently ignored.
void read_codec_settings(MapReader& map, std::string_view owner, std::string& codec_name, codec::CodecOptions& options);

}  // namespace rpcgate::conf
