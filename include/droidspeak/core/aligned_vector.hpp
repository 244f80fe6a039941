// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file A std::vector whose storage starts on a cache line (64 bytes), whatever state the
//! allocator is in.
//!
//! Why: glibc hands out large blocks from mmap (16 bytes past a page boundary) until a freed
//! block raises its threshold, then from the heap (any multiple of 16). The same engine's
//! prefill then took 1.04-1.07x the time depending on which it got (full-width loads that
//! straddle two lines), so two identical engines in one process timed 6 % apart.
#pragma once

#include "droidspeak/core/config.hpp"

#include <cstddef>
#include <new>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI {

//! The alignment of CacheLineAllocator's blocks, in bytes: one x86-64 cache line, the width
//! of an AVX-512 vector.
inline constexpr std::size_t kCacheLine = 64;

//! A std::allocator that aligns every block to kCacheLine (aligned operator new).
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() noexcept = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}  // NOLINT: rebinding is implicit

  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{kCacheLine}));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    ::operator delete(p, n * sizeof(T), std::align_val_t{kCacheLine});
  }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept {
    return true;
  }
};

//! A vector whose data() is a multiple of kCacheLine (when it holds any element).
template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}}  // namespace droidspeak::DROIDSPEAK_ABI
