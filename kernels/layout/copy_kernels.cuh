// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Row-copy kernels shared by the KV and E-cache copies: equal dtypes move raw words
//! of the widest width the rows allow; different dtypes convert through f32 with
//! core/dtype.hpp, as the host's convert_row does. Not installed; kernels/ only.
#pragma once

#include "common.cuh"

#include "droidspeak/core/dispatch.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"

#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>
#include <type_traits>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace cuda::detail {

//! Unsigned word of `kBytes` bytes.
template <int kBytes>
struct WordOf;
template <>
struct WordOf<16> {
  using type = uint4;
};
template <>
struct WordOf<8> {
  using type = uint2;
};
template <>
struct WordOf<4> {
  using type = std::uint32_t;
};
template <>
struct WordOf<2> {
  using type = std::uint16_t;
};
template <>
struct WordOf<1> {
  using type = std::uint8_t;
};

//! Rows of a unit moved together: their loads are all issued before the first store, so
//! each lane keeps kUnroll loads in flight instead of one.
inline constexpr int kUnrollRows = 4;

//! Calls body(s, d) for every unit of `map` that this thread's group takes, with the unit's
//! first source and destination rows; a unit the map passes over (a page outside the pool)
//! is skipped by every lane of the group alike.
template <class Map, class Body>
__device__ __forceinline__ void for_each_unit(const Map& map, const RowWalk& w, Body&& body) {
  const std::int64_t units = map.size();
  for (std::int64_t u = w.first; u < units; u += w.stride) {
    const std::byte* s = nullptr;
    std::byte* d = nullptr;
    if (map.at(u, s, d)) body(s, d);
  }
}

//! Equal dtypes: each row is `words_per_row` words of `kBytes` bytes, copied verbatim with
//! streaming loads and stores. A group of lanes takes a unit (a token's heads, or one E
//! row) and moves its rows kUnrollRows at a time.
template <class Map, int kBytes>
__global__ void __launch_bounds__(kBlockThreads)
    copy_words_kernel(const __grid_constant__ Map map, std::int64_t words_per_row,
                      int group_shift) {
  using Word = typename WordOf<kBytes>::type;
  const RowWalk w = row_walk(blockIdx.x, gridDim.x, threadIdx.x, group_shift);
  const int group = 1 << group_shift;
  const std::int64_t heads = map.heads();
  const std::int64_t sh = map.src_head_bytes();
  const std::int64_t dh = map.dst_head_bytes();
  for_each_unit(map, w, [&](const std::byte* s, std::byte* d) {
    std::int64_t h = 0;
    for (; h + kUnrollRows <= heads; h += kUnrollRows) {
      for (std::int64_t c = w.lane; c < words_per_row; c += group) {
        Word x[kUnrollRows];
        DROIDSPEAK_UNROLL
        for (int i = 0; i < kUnrollRows; ++i) {
          x[i] = load_streaming(reinterpret_cast<const Word*>(s + (h + i) * sh) + c);
        }
        DROIDSPEAK_UNROLL
        for (int i = 0; i < kUnrollRows; ++i) {
          store_streaming(reinterpret_cast<Word*>(d + (h + i) * dh) + c, x[i]);
        }
      }
    }
    for (; h < heads; ++h) {
      const Word* sw = reinterpret_cast<const Word*>(s + h * sh);
      Word* dw = reinterpret_cast<Word*>(d + h * dh);
      for (std::int64_t c = w.lane; c < words_per_row; c += group) {
        store_streaming(dw + c, load_streaming(sw + c));
      }
    }
  });
}

//! Different dtypes: each row is `vecs_per_row` vectors of kVec elements, converted one by
//! one with from_float<Dst>(to_float(x)); a group of lanes takes a unit's rows in turn.
template <class Map, class Src, class Dst, int kVec>
__global__ void __launch_bounds__(kBlockThreads)
    convert_rows_kernel(const __grid_constant__ Map map, std::int64_t vecs_per_row,
                        int group_shift) {
  const RowWalk w = row_walk(blockIdx.x, gridDim.x, threadIdx.x, group_shift);
  const int group = 1 << group_shift;
  const std::int64_t heads = map.heads();
  for_each_unit(map, w, [&](const std::byte* s, std::byte* d) {
    for (std::int64_t h = 0; h < heads; ++h) {
      const Src* sp = reinterpret_cast<const Src*>(s + h * map.src_head_bytes());
      Dst* dp = reinterpret_cast<Dst*>(d + h * map.dst_head_bytes());
      for (std::int64_t c = w.lane; c < vecs_per_row; c += group) {
        const Vec<Src, kVec> in = load_vec<Src, kVec>(sp + c * kVec);
        Vec<Dst, kVec> out;
        DROIDSPEAK_UNROLL
        for (int i = 0; i < kVec; ++i) out.v[i] = from_float<Dst>(to_float(in.v[i]));
        store_vec<Dst, kVec>(dp + c * kVec, out);
      }
    }
  });
}

//! Launches `kernel` over the units of `map` with groups sized for `per_row` accesses.
template <class Map, class Kernel>
Status launch_rows(Kernel* kernel, const Map& map, std::int64_t per_row, CUstream_st* stream) {
  const int shift = group_shift_for(per_row);
  unsigned blocks = 0;
  DROIDSPEAK_TRY(grid_for(kernel, map.size(), shift, blocks));
  kernel<<<blocks, kBlockThreads, 0, stream>>>(map, per_row, shift);
  DROIDSPEAK_CUDA_TRY(cudaGetLastError());
  return Status::ok();
}

template <class Map, int kBytes>
Status launch_copy_words(const Map& map, std::int64_t row_bytes, CUstream_st* stream) {
  return launch_rows(copy_words_kernel<Map, kBytes>, map, row_bytes / kBytes, stream);
}

template <class Map, class Src, class Dst, int kVec>
Status launch_convert(const Map& map, std::int64_t row_elements, CUstream_st* stream) {
  return launch_rows(convert_rows_kernel<Map, Src, Dst, kVec>, map, row_elements / kVec, stream);
}

//! Launches the copy of `map.size()` rows of `row_elements` elements from `src_dtype` to
//! `dst_dtype`. `bases` are every base pointer of both caches; the access width is the
//! widest that the row bytes and all bases allow. Launches nothing for zero rows.
template <class Map>
Status launch_row_copy(const Map& map, DType src_dtype, DType dst_dtype,
                       std::int64_t row_elements, std::initializer_list<const void*> bases,
                       CUstream_st* stream) {
  if (map.size() == 0 || row_elements == 0) return Status::ok();
  if (src_dtype == dst_dtype) {
    const std::int64_t row_bytes = row_elements * dtype_size(src_dtype);
    auto fits = [&](std::int64_t width) { return row_bytes % width == 0 && aligned(bases, width); };
    if (fits(16)) return launch_copy_words<Map, 16>(map, row_bytes, stream);
    if (fits(8)) return launch_copy_words<Map, 8>(map, row_bytes, stream);
    if (fits(4)) return launch_copy_words<Map, 4>(map, row_bytes, stream);
    if (fits(2)) return launch_copy_words<Map, 2>(map, row_bytes, stream);
    return launch_copy_words<Map, 1>(map, row_bytes, stream);
  }
  return dispatch_dtype(src_dtype, [&](auto s_tag) {
    return dispatch_dtype(dst_dtype, [&](auto d_tag) {
      using Src = typename decltype(s_tag)::type;
      using Dst = typename decltype(d_tag)::type;
      if constexpr (std::is_same_v<Src, Dst>) {
        return Status::internal("launch_row_copy: equal dtypes reached the converting path");
      } else {
        constexpr int kVec = vec_elements(sizeof(Src), sizeof(Dst));
        if (vectorizable(row_elements, kVec, bases)) {
          return launch_convert<Map, Src, Dst, kVec>(map, row_elements, stream);
        }
        return launch_convert<Map, Src, Dst, 1>(map, row_elements, stream);
      }
    });
  });
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::cuda::detail
