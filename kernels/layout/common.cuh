// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Internals shared by the layout kernels: error macro, the units a grid walks (a KV
//! token unit, selected layer x K|V x token, whose heads are a stride apart; or one E-cache
//! row, selected layer x token), vector and streaming loads and stores, and launch-shape
//! helpers (grid_for, cached per kernel and device). Not installed; kernels/ only.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/head_order.hpp"   // KvPart
#include "droidspeak/layout/fast_divmod.hpp"
#include "droidspeak/layout/kv_token_map.hpp"
#include "droidspeak/layout/layer_set.hpp"
#include "droidspeak/layout/operations.hpp"  // ECopyArgs
#include "droidspeak/layout/token_range.hpp"
#include "droidspeak/layout/view.hpp"

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>  // std::memcpy: register reinterpretation of loaded words
#include <initializer_list>
#include <mutex>
#include <string>
#include <vector>

//! Returns Status::cuda_error naming the call and the runtime's message if `expr` failed.
#define DROIDSPEAK_CUDA_TRY(expr)                                                     \
  do {                                                                                \
    const cudaError_t droidspeak_cuda_err_ = (expr);                                  \
    if (droidspeak_cuda_err_ != cudaSuccess) {                                        \
      return ::droidspeak::Status::cuda_error(std::string(#expr) + ": " +             \
                                              cudaGetErrorString(droidspeak_cuda_err_)); \
    }                                                                                 \
  } while (false)

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace cuda::detail {

//! Threads per block of every layout kernel.
inline constexpr int kBlockThreads = 256;

using layout::LayerTable;

inline LayerTable make_layer_table(const layout::LayerSet& set) { return LayerTable::of(set); }

//! One side of a KV copy as byte addresses: K rows from `k`, V rows from `v` (the same
//! pointer unless the layout has two bases), `elem_bytes` per element, `head_bytes` from a
//! token's head h row to its head h + 1 row.
template <class Byte>
struct KvBases {
  Byte* k;
  Byte* v;
  std::int64_t elem_bytes;
  std::int64_t head_bytes;

  template <class View>
  static KvBases of(const View& view) {
    const std::int64_t e = dtype_size(view.dtype);
    return {view.k_data, view.layout.two_bases() ? view.v_data : view.k_data, e,
            view.layout.head_stride() * e};
  }
  DROIDSPEAK_HOST_DEVICE Byte* at(layout::KvPart part, std::int64_t offset) const {
    return (part == layout::KvPart::kV ? v : k) + offset * elem_bytes;
  }
};

//! The token units of a KV copy (layout::KvTokenMap) with both caches' bases: `at` gives
//! the head-0 rows of unit u, and is false for a unit to skip (a page index outside its
//! pool). Head h of the unit is `h * src.head_bytes` / `h * dst.head_bytes` further on.
struct KvCopyMap {
  layout::KvTokenMap tokens;
  KvBases<const std::byte> src;
  KvBases<std::byte> dst;

  static KvCopyMap make(const layout::ConstKvView& s, const layout::KvView& d,
                        const layout::LayerSet& layers, const layout::TokenRange& src_tokens,
                        std::int64_t dst_token_begin) {
    return {layout::KvTokenMap::make(s.layout, d.layout, layers, src_tokens, dst_token_begin),
            KvBases<const std::byte>::of(s), KvBases<std::byte>::of(d)};
  }

  DROIDSPEAK_HOST_DEVICE std::int64_t size() const { return tokens.size(); }
  DROIDSPEAK_HOST_DEVICE std::int64_t heads() const { return tokens.num_heads; }
  DROIDSPEAK_HOST_DEVICE std::int64_t src_head_bytes() const { return src.head_bytes; }
  DROIDSPEAK_HOST_DEVICE std::int64_t dst_head_bytes() const { return dst.head_bytes; }
  DROIDSPEAK_HOST_DEVICE bool at(std::int64_t u, layout::KvTokenUnit& unit, const std::byte*& s,
                                 std::byte*& d) const {
    unit = tokens.at(u);
    if (unit.src_offset < 0 || unit.dst_offset < 0) return false;
    s = src.at(unit.part, unit.src_offset);
    d = dst.at(unit.part, unit.dst_offset);
    return true;
  }
  DROIDSPEAK_HOST_DEVICE bool at(std::int64_t u, const std::byte*& s, std::byte*& d) const {
    layout::KvTokenUnit unit;
    return at(u, unit, s, d);
  }
};

//! Rows of an E-cache copy in the order (selected layer, token): one row per unit.
struct ECopyMap {
  layout::ConstEView src_view;
  layout::EView dst_view;
  LayerTable layers;
  std::int64_t num_tokens;
  layout::FastDivmod by_tokens;
  std::int64_t src_token_begin;
  std::int64_t dst_token_begin;

  static ECopyMap make(const layout::ECopyArgs& a) {
    const std::int64_t n = a.src_tokens.size();
    return {a.src, a.dst, make_layer_table(a.layers), n, layout::FastDivmod(n < 1 ? 1 : n),
            a.src_tokens.begin, a.dst_token_begin};
  }

  DROIDSPEAK_HOST_DEVICE std::int64_t size() const { return layers.count * num_tokens; }
  DROIDSPEAK_HOST_DEVICE std::int64_t heads() const { return 1; }
  DROIDSPEAK_HOST_DEVICE std::int64_t src_head_bytes() const { return 0; }
  DROIDSPEAK_HOST_DEVICE std::int64_t dst_head_bytes() const { return 0; }
  DROIDSPEAK_HOST_DEVICE bool at(std::int64_t r, const std::byte*& s, std::byte*& d) const {
    std::int64_t layer_index = 0;
    std::int64_t t = 0;
    by_tokens.divmod(r, layer_index, t);
    const std::int64_t layer = layers.layer[layer_index];
    s = src_view.row(layer, src_token_begin + t);
    d = dst_view.row(layer, dst_token_begin + t);
    return true;
  }
};

//! Which rows a thread works on: rows are shared out to groups of `1 << group_shift`
//! consecutive lanes (a power of two up to a warp), and groups stride over the rows.
struct RowWalk {
  std::int64_t first;   //!< first row of this thread's group
  std::int64_t stride;  //!< groups in the grid
  int lane;             //!< lane inside the group
};

DROIDSPEAK_HOST_DEVICE RowWalk row_walk(unsigned block, unsigned grid, unsigned thread,
                                   int group_shift) {
  const std::int64_t global = static_cast<std::int64_t>(block) * kBlockThreads + thread;
  return {global >> group_shift, (static_cast<std::int64_t>(grid) * kBlockThreads) >> group_shift,
          static_cast<int>(thread & ((1u << group_shift) - 1u))};
}

//! N elements of T loaded or stored together.
template <class T, int N>
struct Vec {
  T v[N];
};

//! Loads N elements from `p`: as 16-byte words when N * sizeof(T) is a multiple of 16
//! (then `p` must be 16-byte aligned), element by element otherwise.
template <class T, int N>
DROIDSPEAK_DEVICE Vec<T, N> load_vec(const T* p) {
  Vec<T, N> out;
  if constexpr (sizeof(T) * N % 16 == 0) {
    constexpr int kWords = static_cast<int>(sizeof(T) * N / 16);
    uint4 w[kWords];
    DROIDSPEAK_UNROLL
    for (int i = 0; i < kWords; ++i) w[i] = __ldg(reinterpret_cast<const uint4*>(p) + i);
    std::memcpy(&out, w, sizeof out);
  } else {
    DROIDSPEAK_UNROLL
    for (int i = 0; i < N; ++i) out.v[i] = p[i];
  }
  return out;
}

//! Stores N elements to `p`, with the same rule as load_vec.
template <class T, int N>
DROIDSPEAK_DEVICE void store_vec(T* p, const Vec<T, N>& x) {
  if constexpr (sizeof(T) * N % 16 == 0) {
    constexpr int kWords = static_cast<int>(sizeof(T) * N / 16);
    uint4 w[kWords];
    std::memcpy(w, &x, sizeof w);
    DROIDSPEAK_UNROLL
    for (int i = 0; i < kWords; ++i) reinterpret_cast<uint4*>(p)[i] = w[i];
  } else {
    DROIDSPEAK_UNROLL
    for (int i = 0; i < N; ++i) p[i] = x.v[i];
  }
}

//! Elements per vector when converting between element sizes `a` and `b` bytes: enough
//! that the narrower side moves 16 bytes (so the wider one moves 16, 32 or 64).
constexpr int vec_elements(std::int64_t a, std::int64_t b) {
  return static_cast<int>(16 / (a < b ? a : b));
}

//! True when every pointer is a multiple of `alignment` bytes.
inline bool aligned(std::initializer_list<const void*> ptrs, std::int64_t alignment) {
  for (const void* p : ptrs) {
    if (reinterpret_cast<std::uintptr_t>(p) % static_cast<std::uintptr_t>(alignment) != 0) {
      return false;
    }
  }
  return true;
}

//! Every row starts at base + (a multiple of its row length) elements in every layout, so
//! all rows are aligned for `vec`-element accesses exactly when the bases are 16-byte
//! aligned and the row length is a multiple of `vec`: decided once per call, not per row.
inline bool vectorizable(std::int64_t row_elements, int vec,
                         std::initializer_list<const void*> bases) {
  return row_elements % vec == 0 && aligned(bases, 16);
}

//! log2 of the lanes that share a row: the smallest power of two covering `chunks` vector
//! accesses, at most a warp (longer rows loop).
inline int group_shift_for(std::int64_t chunks) {
  int shift = 0;
  while (shift < 5 && (std::int64_t{1} << shift) < chunks) ++shift;
  return shift;
}

//! Resident blocks of `kernel` on the current device in one wave (SMs x blocks per SM),
//! queried once per (kernel, device) and then read from a cache: launches pay one
//! cudaGetDevice instead of three runtime queries. Host-side only, so launches stay
//! graph-capturable.
inline Status wave_blocks(const void* kernel, std::int64_t& wave) {
  struct Entry {
    const void* kernel;
    int device;
    std::int64_t wave;
  };
  static std::mutex mutex;
  static std::vector<Entry> cache;
  int device = 0;
  DROIDSPEAK_CUDA_TRY(cudaGetDevice(&device));
  {
    const std::lock_guard<std::mutex> lock(mutex);
    for (const Entry& e : cache) {
      if (e.kernel == kernel && e.device == device) {
        wave = e.wave;
        return Status::ok();
      }
    }
  }
  int sms = 0;
  int per_sm = 0;
  DROIDSPEAK_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  DROIDSPEAK_CUDA_TRY(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kBlockThreads, 0));
  wave = static_cast<std::int64_t>(sms) * (per_sm > 0 ? per_sm : 1);
  const std::lock_guard<std::mutex> lock(mutex);
  cache.push_back({kernel, device, wave});
  return Status::ok();
}

//! Blocks for a grid-stride walk of `kernel` over `units` units with groups of
//! `1 << group_shift` lanes: enough to cover the units, at most one wave of resident
//! blocks (a partial second wave would leave SMs idle at the end); larger walks loop.
template <class Kernel>
Status grid_for(Kernel* kernel, std::int64_t units, int group_shift, unsigned& blocks) {
  std::int64_t wave = 0;
  DROIDSPEAK_TRY(wave_blocks(reinterpret_cast<const void*>(kernel), wave));
  const std::int64_t units_per_block = kBlockThreads >> group_shift;
  const std::int64_t wanted = (units + units_per_block - 1) / units_per_block;
  const std::int64_t n = wanted < wave ? wanted : wave;
  blocks = static_cast<unsigned>(n < 1 ? 1 : n);
  return Status::ok();
}

//! Streaming load and store (evict-first: each byte of a copy is touched once, so it
//! should not push the caller's working set out of L2).
template <class Word>
DROIDSPEAK_DEVICE Word load_streaming(const Word* p) {
  return __ldcs(p);
}
template <class Word>
DROIDSPEAK_DEVICE void store_streaming(Word* p, const Word& x) {
  __stcs(p, x);
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::cuda::detail
