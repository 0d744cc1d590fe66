// ScratchVector<T>: a std::vector whose resize() leaves new elements of trivially
// constructible types unwritten, for activation buffers that every pass overwrites.
//
// A plain std::vector value-initializes (zeroes) what resize() adds. The forward scratch
// shrinks to one token's rows while decoding and grows back for the next prompt, so each
// prompt paid a memset of its whole activation set (5% of stories260K's prompt in wasm).
// Only use it where every element is written before it is read.
//
// Thread-safety: that of std::vector.
#pragma once

#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace hearth::models {

// std::allocator, except that construction without arguments default-initializes (for float:
// leaves the memory as it is) instead of value-initializing.
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  using value_type = T;
  DefaultInitAllocator() noexcept = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}

  template <class U>
  void construct(U* p) noexcept(noexcept(::new (static_cast<void*>(p)) U)) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

template <class T, class U>
bool operator==(const DefaultInitAllocator<T>&, const DefaultInitAllocator<U>&) noexcept {
  return true;
}

template <class T>
using ScratchVector = std::vector<T, DefaultInitAllocator<T>>;

}  // namespace hearth::models
