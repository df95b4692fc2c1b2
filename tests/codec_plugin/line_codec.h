// A codec built outside codecs/, to prove the codec seam: one line of text per request
// ("METHOD ARG ARG\n"), one per answer ("+JSON\n" or "-CODE message\n"). Its registry entry
// declares two options of its own, which the config reads, checks and shows without knowing it.
// An empty line is a keep-alive that makes no request (DecodeStatus::kConsumed); the listener
// option `greeting` is a line the codec writes on its own, once, with its first write
// (ServerCodec::take_output).
#pragma once

#include "codecs/codec.h"

namespace line_codec {

extern const rpcgate::codec::CodecInfo kInfo;

}  // namespace line_codec
