// The Redis Cluster hash slot of a key: CRC16 (XMODEM: polynomial 0x1021, initial 0, no
// reflection) of the key, or of its hash tag (the bytes between the first '{' and the first '}'
// after it, when there are any), modulo 16384. Keys that share a tag share a slot, which is how a
// client keeps a multi-key command or a transaction on one node.
#pragma once

#include <cstdint>
#include <string_view>

namespace rpcgate::codec::resp {

inline constexpr uint16_t kClusterSlots = 16384;

uint16_t crc16(std::string_view bytes);
uint16_t key_slot(std::string_view key);

}  // namespace rpcgate::codec::resp
