#include "core/byte_buffer.h"

namespace rpcgate {

void ByteBuffer::consume(size_t count) {
  if (count >= size_) {
    size_ = 0;
    return;
  }
  std::memmove(data_.get(), data_.get() + count, size_ - count);
  size_ -= count;
}

}  // namespace rpcgate
