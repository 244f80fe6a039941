// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/core/aligned_vector.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

using namespace droidspeak;

namespace {
bool on_cache_line(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % kCacheLine == 0; }
}  // namespace

TEST_CASE("aligned_vector: storage starts on a cache line at every size, after growth and copies") {
  // Between the vectors, blocks of odd sizes are held and freed, so that the allocator hands
  // out blocks at many offsets (from the heap and from mmap).
  std::vector<void*> noise;
  for (std::size_t n : {1u, 3u, 17u, 1000u, 4097u, 40000u, 300000u, 5000000u}) {
    noise.push_back(std::malloc(n * 7 + 5));
    AlignedVector<float> v(n, 1.0f);
    CHECK(on_cache_line(v.data()));
    v.resize(n * 3 + 1);
    CHECK(on_cache_line(v.data()));
    const AlignedVector<float> copy = v;
    CHECK(on_cache_line(copy.data()));
    CHECK(copy == v);
    AlignedVector<double> d(n);
    CHECK(on_cache_line(d.data()));
  }
  for (void* p : noise) std::free(p);
}
