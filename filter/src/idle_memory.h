#pragma once

// Memory for what a waiting connection keeps (its parked object, its readiness wait, a partial
// head): size-classed blocks carved from 64 KiB slabs of anonymous mappings, and a slab is
// unmapped as soon as its last block is freed (one empty slab per class is kept for reuse).
// malloc would put these small long-lived blocks between the short-lived buffers of active
// requests; after a burst of slow connections closed, few whole pages would be free and RSS
// would stay at its peak. Here a burst's slabs go back to the system when its connections go.
//
// Under AddressSanitizer every block is an ordinary heap allocation (so use-after-free and
// overflows in what uses it are still found).

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>

namespace bulwark::filter::idlemem {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kPassThrough = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kPassThrough = true;
#else
inline constexpr bool kPassThrough = false;
#endif
#else
inline constexpr bool kPassThrough = false;
#endif

inline constexpr size_t kSlabBytes = 64 * 1024;
inline constexpr size_t kGranule = 32;
inline constexpr size_t kMaxBlock = 4096; // larger blocks come from operator new
inline constexpr size_t kClasses = kMaxBlock / kGranule;

class Pool {
public:
  void* allocate(size_t n) {
    const size_t cls = (n + kGranule - 1) / kGranule - 1;
    std::lock_guard lock(mu_);
    Slab* s = partial_[cls];
    if (s == nullptr) {
      s = newSlab(cls);
      push(s);
    }
    if (s == spare_[cls]) {
      spare_[cls] = nullptr;
    }
    void* p = s->freeList;
    if (p != nullptr) {
      s->freeList = *static_cast<void**>(p);
    } else {
      p = reinterpret_cast<char*>(s) + kHeader + size_t{s->fresh} * s->blockSize;
      ++s->fresh;
    }
    if (++s->used == s->capacity) {
      unlink(s); // full: no longer offered
    }
    return p;
  }

  void deallocate(void* p) noexcept {
    Slab* s = reinterpret_cast<Slab*>(reinterpret_cast<uintptr_t>(p) & ~(kSlabBytes - 1));
    std::lock_guard lock(mu_);
    const bool wasFull = s->used == s->capacity;
    *static_cast<void**>(p) = s->freeList;
    s->freeList = p;
    --s->used;
    if (wasFull) {
      push(s);
    }
    if (s->used == 0) {
      if (spare_[s->cls] == nullptr) {
        spare_[s->cls] = s; // kept: a single connection going back and forth costs no mmap
      } else {
        unlink(s);
        ::munmap(s, kSlabBytes);
      }
    }
  }

private:
  struct Slab {
    Slab* prev;
    Slab* next;
    void* freeList;
    uint32_t blockSize;
    uint32_t capacity;
    uint32_t used;
    uint32_t fresh; // blocks from here on were never handed out
    uint32_t cls;
  };
  static constexpr size_t kHeader = (sizeof(Slab) + kGranule - 1) / kGranule * kGranule;

  static Slab* newSlab(size_t cls) {
    // Twice the size, then the unaligned ends are given back: slabs are aligned to their size,
    // so a block finds its slab by masking its address.
    void* raw = ::mmap(nullptr, 2 * kSlabBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
      throw std::bad_alloc();
    }
    const auto base = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (base + kSlabBytes - 1) & ~(kSlabBytes - 1);
    if (aligned > base) {
      ::munmap(raw, aligned - base);
    }
    const uintptr_t end = base + 2 * kSlabBytes;
    if (end > aligned + kSlabBytes) {
      ::munmap(reinterpret_cast<void*>(aligned + kSlabBytes), end - (aligned + kSlabBytes));
    }
    auto* s = reinterpret_cast<Slab*>(aligned);
    s->prev = nullptr;
    s->next = nullptr;
    s->freeList = nullptr;
    s->blockSize = static_cast<uint32_t>((cls + 1) * kGranule);
    s->capacity = static_cast<uint32_t>((kSlabBytes - kHeader) / s->blockSize);
    s->used = 0;
    s->fresh = 0;
    s->cls = static_cast<uint32_t>(cls);
    return s;
  }

  void push(Slab* s) {
    s->prev = nullptr;
    s->next = partial_[s->cls];
    if (s->next != nullptr) {
      s->next->prev = s;
    }
    partial_[s->cls] = s;
  }

  void unlink(Slab* s) {
    if (s->prev != nullptr) {
      s->prev->next = s->next;
    } else {
      partial_[s->cls] = s->next;
    }
    if (s->next != nullptr) {
      s->next->prev = s->prev;
    }
    s->prev = nullptr;
    s->next = nullptr;
  }

  std::mutex mu_;
  Slab* partial_[kClasses] = {}; // slabs with a free block, per size class
  Slab* spare_[kClasses] = {};   // an empty slab kept per class
};

inline Pool& pool() {
  static Pool* p = new Pool; // never destroyed: blocks may be freed during static destruction
  return *p;
}

inline void* allocate(size_t n) {
  if (kPassThrough || n == 0 || n > kMaxBlock) {
    return ::operator new(n);
  }
  return pool().allocate(n);
}

inline void deallocate(void* p, size_t n) noexcept {
  if (kPassThrough || n == 0 || n > kMaxBlock) {
    ::operator delete(p);
    return;
  }
  pool().deallocate(p);
}

// A standard allocator over the pool (for allocate_shared and for asio handlers).
template <class T>
struct Allocator {
  using value_type = T;
  Allocator() = default;
  template <class U>
  Allocator(const Allocator<U>&) noexcept {} // NOLINT(google-explicit-constructor)
  T* allocate(size_t n) { return static_cast<T*>(idlemem::allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { idlemem::deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const Allocator<U>&) const noexcept {
    return true;
  }
};

} // namespace bulwark::filter::idlemem
