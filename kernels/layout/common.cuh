// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Internals shared by the layout kernels: error macro, the row spaces a grid walks
//! (selected layer x K|V x token x head, or selected layer x token for E caches), vector
//! loads and stores, and launch-shape helpers. Not installed; kernels/ only.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/head_order.hpp"   // KvPart
#include "droidspeak/layout/layer_set.hpp"
#include "droidspeak/layout/token_range.hpp"
#include "droidspeak/layout/view.hpp"

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>  // std::memcpy: register reinterpretation of loaded words
#include <initializer_list>
#include <string>

//! Returns Status::cuda_error naming the call and the runtime's message if `expr` failed.
#define DROIDSPEAK_CUDA_TRY(expr)                                                     \
  do {                                                                                \
    const cudaError_t droidspeak_cuda_err_ = (expr);                                  \
    if (droidspeak_cuda_err_ != cudaSuccess) {                                        \
      return ::droidspeak::Status::cuda_error(std::string(#expr) + ": " +             \
                                              cudaGetErrorString(droidspeak_cuda_err_)); \
    }                                                                                 \
  } while (false)

namespace droidspeak::inline DROIDSPEAK_ABI::cuda::detail {

//! Threads per block of every layout kernel.
inline constexpr int kBlockThreads = 256;

//! The selected layers in ascending order. Expanded once on the host and passed in the
//! kernel parameters, so a thread maps a row to its layer with one read instead of
//! LayerSet::nth's bit loop, and no table is copied to the device.
struct LayerTable {
  std::uint8_t layer[layout::kMaxLayers];
  std::int64_t count;
};

inline LayerTable make_layer_table(const layout::LayerSet& set) {
  LayerTable t{};
  t.count = 0;
  for (std::int64_t l = 0; l < layout::kMaxLayers; ++l) {
    if (set.contains(l)) t.layer[t.count++] = static_cast<std::uint8_t>(l);
  }
  return t;
}

//! One K or V row of head_dim elements, with its token in both caches.
struct KvRow {
  std::int64_t layer;
  layout::KvPart part;
  std::int64_t src_token;
  std::int64_t dst_token;
  std::int64_t head;
};

//! Rows of a KV transfer in the order (selected layer, K|V, token, head), head fastest:
//! row r of a transfer of T tokens and H heads is layer index r / (2 T H), part
//! (r / (T H)) % 2, token (r / H) % T, head r % H.
struct KvRows {
  LayerTable layers;
  std::int64_t num_tokens;
  std::int64_t num_heads;
  std::int64_t src_token_begin;
  std::int64_t dst_token_begin;

  DROIDSPEAK_HOST_DEVICE std::int64_t size() const {
    return layers.count * 2 * num_tokens * num_heads;
  }
  DROIDSPEAK_HOST_DEVICE KvRow at(std::int64_t r) const {
    const std::int64_t head = r % num_heads;
    r /= num_heads;
    const std::int64_t t = r % num_tokens;
    r /= num_tokens;
    return {layers.layer[r >> 1], static_cast<layout::KvPart>(r & 1), src_token_begin + t,
            dst_token_begin + t, head};
  }
};

inline KvRows make_kv_rows(const layout::LayerSet& layers, const layout::TokenRange& src_tokens,
                           std::int64_t dst_token_begin, std::int64_t num_heads) {
  return {make_layer_table(layers), src_tokens.size(), num_heads, src_tokens.begin,
          dst_token_begin};
}

//! Source and destination rows of a KV copy; `at` is false for a row to skip (a page index
//! outside its pool). The addresses come from the views' own row(), the code the host uses.
struct KvCopyMap {
  layout::ConstKvView src;
  layout::KvView dst;
  KvRows rows;

  DROIDSPEAK_HOST_DEVICE std::int64_t size() const { return rows.size(); }
  DROIDSPEAK_HOST_DEVICE bool at(std::int64_t r, const std::byte*& s, std::byte*& d) const {
    const KvRow row = rows.at(r);
    s = src.row(row.layer, row.part, row.src_token, row.head);
    d = dst.row(row.layer, row.part, row.dst_token, row.head);
    return s != nullptr && d != nullptr;
  }
};

//! Rows of an E-cache copy in the order (selected layer, token).
struct ECopyMap {
  layout::ConstEView src;
  layout::EView dst;
  LayerTable layers;
  std::int64_t num_tokens;
  std::int64_t src_token_begin;
  std::int64_t dst_token_begin;

  DROIDSPEAK_HOST_DEVICE std::int64_t size() const { return layers.count * num_tokens; }
  DROIDSPEAK_HOST_DEVICE bool at(std::int64_t r, const std::byte*& s, std::byte*& d) const {
    const std::int64_t layer = layers.layer[r / num_tokens];
    const std::int64_t t = r % num_tokens;
    s = src.row(layer, src_token_begin + t);
    d = dst.row(layer, dst_token_begin + t);
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

//! Blocks for a grid-stride walk of `kernel` over `rows` rows with groups of
//! `1 << group_shift` lanes: enough to cover the rows, at most one wave of resident blocks
//! on the current device (a partial second wave would leave SMs idle at the end). The
//! queries are host-side only, so launches stay graph-capturable.
template <class Kernel>
Status grid_for(Kernel* kernel, std::int64_t rows, int group_shift, unsigned& blocks) {
  int device = 0;
  int sms = 0;
  int per_sm = 0;
  DROIDSPEAK_CUDA_TRY(cudaGetDevice(&device));
  DROIDSPEAK_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  DROIDSPEAK_CUDA_TRY(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kBlockThreads, 0));
  const std::int64_t rows_per_block = kBlockThreads >> group_shift;
  const std::int64_t wanted = (rows + rows_per_block - 1) / rows_per_block;
  const std::int64_t wave = static_cast<std::int64_t>(sms) * (per_sm > 0 ? per_sm : 1);
  const std::int64_t n = wanted < wave ? wanted : wave;
  blocks = static_cast<unsigned>(n < 1 ? 1 : n);
  return Status::ok();
}

}  // namespace droidspeak::inline DROIDSPEAK_ABI::cuda::detail
