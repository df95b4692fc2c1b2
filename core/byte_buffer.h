// A growable byte buffer for the unconsumed bytes of an incomplete frame. Unlike std::string it
// grows without zero-filling the space a read is about to overwrite, and consuming from the
// front is one memmove of what is left.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace rpcgate {

class ByteBuffer {
 public:
  char* data() { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }
  std::string_view view() const { return {data_.get(), size_}; }

  // Space for at least `wanted` more bytes after the current contents.
  char* reserve_tail(size_t wanted) {
    if (capacity_ - size_ < wanted) grow(size_ + wanted);
    return data_.get() + size_;
  }
  size_t tail_room() const { return capacity_ - size_; }
  void commit(size_t appended) { size_ += appended; }

  void assign(const char* bytes, size_t count) {
    size_ = 0;
    std::memcpy(reserve_tail(count), bytes, count);
    size_ = count;
  }

  // Drops the first `count` bytes (all of them when count >= size()). Out of line: inlined
  // into a caller that passes more than size(), GCC 12 warns about a memmove it never reaches.
  void consume(size_t count);

  // Gives memory back after a large frame, so an idle connection holds little.
  void shrink_if_above(size_t limit) {
    if (capacity_ <= limit || size_ > limit / 2) return;
    auto smaller = std::make_unique_for_overwrite<char[]>(limit / 2);
    if (size_ > 0) std::memcpy(smaller.get(), data_.get(), size_);
    data_ = std::move(smaller);
    capacity_ = limit / 2;
  }

 private:
  void grow(size_t needed) {
    size_t next = capacity_ == 0 ? 4096 : capacity_;
    while (next < needed) next *= 2;
    auto bigger = std::make_unique_for_overwrite<char[]>(next);
    if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = next;
  }

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace rpcgate
