// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file CUDA quantise / dequantise fused into the KV copy: one scale per (layer, K|V,
//! token, kv_head) row, with the arithmetic of layout/row_ops.hpp so results match the host
//! bit for bit.
#include "droidspeak/cuda/layout.hpp"

#include "common.cuh"

#include "droidspeak/core/dispatch.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/layout/operations.hpp"
#include "droidspeak/layout/row_ops.hpp"

#include <cub/warp/warp_reduce.cuh>  // cub::WarpReduce: the row's absmax over its lanes
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

namespace droidspeak::inline DROIDSPEAK_ABI::cuda {
namespace detail {
namespace {

struct QuantizeParams {
  KvCopyMap map;
  float* scales;               // [dst layers][2][dst tokens][heads]
  std::int64_t scale_tokens;   // tokens of the destination cache
  std::int64_t vecs_per_row;
  float qmax;
};

struct DequantizeParams {
  KvCopyMap map;
  const float* scales;         // [src layers][2][src tokens][heads]
  std::int64_t scale_tokens;   // tokens of the source cache
  std::int64_t vecs_per_row;
};

// The larger of two non-negative, non-NaN values (abs_for_scale already mapped NaN to 0).
struct AbsMax {
  DROIDSPEAK_DEVICE float operator()(float a, float b) const { return b > a ? b : a; }
};

// Each row belongs to a logical warp of kGroup lanes: every lane reads its vectors for the
// absmax, the logical warp reduces it and broadcasts it, then every lane quantises the same
// vectors again (they are in L1) with the reciprocal scale, and lane 0 writes the scale.
template <class Src, class Q, int kVec, int kGroup>
__global__ void __launch_bounds__(kBlockThreads)
    quantize_rows_kernel(const __grid_constant__ QuantizeParams p) {
  using WarpReduce = cub::WarpReduce<float, kGroup>;
  __shared__ typename WarpReduce::TempStorage temp[kBlockThreads / kGroup];
  constexpr int kShift = kGroup == 1 ? 0 : kGroup == 2 ? 1 : kGroup == 4 ? 2 : kGroup == 8 ? 3
                         : kGroup == 16 ? 4 : 5;
  static_assert((1 << kShift) == kGroup, "kGroup must be a power of two up to 32");
  const RowWalk w = row_walk(blockIdx.x, gridDim.x, threadIdx.x, kShift);
  const int group_in_block = static_cast<int>(threadIdx.x) / kGroup;
  const unsigned lane_in_warp = threadIdx.x & 31u;
  const unsigned group_mask =
      kGroup == 32 ? 0xFFFFFFFFu : ((1u << kGroup) - 1u) << (lane_in_warp & ~(kGroup - 1u));
  const std::int64_t rows = p.map.size();
  const std::int64_t heads = p.map.rows.num_heads;
  for (std::int64_t r = w.first; r < rows; r += w.stride) {
    const KvRow row = p.map.rows.at(r);
    const std::byte* s = p.map.src.row(row.layer, row.part, row.src_token, row.head);
    std::byte* d = p.map.dst.row(row.layer, row.part, row.dst_token, row.head);
    if (s == nullptr || d == nullptr) continue;  // the same for every lane of the group
    const Src* sp = reinterpret_cast<const Src*>(s);
    Q* dp = reinterpret_cast<Q*>(d);
    float absmax = 0.0f;
    for (std::int64_t c = w.lane; c < p.vecs_per_row; c += kGroup) {
      const Vec<Src, kVec> in = load_vec<Src, kVec>(sp + c * kVec);
      DROIDSPEAK_UNROLL
      for (int i = 0; i < kVec; ++i) {
        const float v = layout::abs_for_scale(to_float(in.v[i]));
        absmax = v > absmax ? v : absmax;
      }
    }
    absmax = WarpReduce(temp[group_in_block]).Reduce(absmax, AbsMax{});  // valid in lane 0
    absmax = __shfl_sync(group_mask, absmax, 0, kGroup);
    const layout::RowScale rs = layout::row_scale(absmax, p.qmax);
    for (std::int64_t c = w.lane; c < p.vecs_per_row; c += kGroup) {
      const Vec<Src, kVec> in = load_vec<Src, kVec>(sp + c * kVec);
      Vec<Q, kVec> out;
      DROIDSPEAK_UNROLL
      for (int i = 0; i < kVec; ++i) {
        out.v[i] = layout::quantize_value<Q>(to_float(in.v[i]), rs.inv_scale);
      }
      store_vec<Q, kVec>(dp + c * kVec, out);
    }
    if (w.lane == 0) {
      p.scales[layout::scale_index(row.layer, row.part, row.dst_token, row.head, p.scale_tokens,
                                   heads)] = rs.scale;
    }
  }
}

template <class Q, class Dst, int kVec>
__global__ void __launch_bounds__(kBlockThreads)
    dequantize_rows_kernel(const __grid_constant__ DequantizeParams p, int group_shift) {
  const RowWalk w = row_walk(blockIdx.x, gridDim.x, threadIdx.x, group_shift);
  const int group = 1 << group_shift;
  const std::int64_t rows = p.map.size();
  const std::int64_t heads = p.map.rows.num_heads;
  for (std::int64_t r = w.first; r < rows; r += w.stride) {
    const KvRow row = p.map.rows.at(r);
    const std::byte* s = p.map.src.row(row.layer, row.part, row.src_token, row.head);
    std::byte* d = p.map.dst.row(row.layer, row.part, row.dst_token, row.head);
    if (s == nullptr || d == nullptr) continue;
    const float scale = p.scales[layout::scale_index(row.layer, row.part, row.src_token, row.head,
                                                     p.scale_tokens, heads)];
    const Q* sp = reinterpret_cast<const Q*>(s);
    Dst* dp = reinterpret_cast<Dst*>(d);
    for (std::int64_t c = w.lane; c < p.vecs_per_row; c += group) {
      const Vec<Q, kVec> in = load_vec<Q, kVec>(sp + c * kVec);
      Vec<Dst, kVec> out;
      DROIDSPEAK_UNROLL
      for (int i = 0; i < kVec; ++i) out.v[i] = layout::dequantize_value<Dst>(in.v[i], scale);
      store_vec<Dst, kVec>(dp + c * kVec, out);
    }
  }
}

template <class Src, class Q, int kVec, int kGroup>
Status launch_quantize(QuantizeParams p, CUstream_st* stream) {
  constexpr int kShift = kGroup == 8 ? 3 : kGroup == 16 ? 4 : 5;
  unsigned blocks = 0;
  DROIDSPEAK_TRY(
      grid_for(quantize_rows_kernel<Src, Q, kVec, kGroup>, p.map.size(), kShift, blocks));
  quantize_rows_kernel<Src, Q, kVec, kGroup><<<blocks, kBlockThreads, 0, stream>>>(p);
  DROIDSPEAK_CUDA_TRY(cudaGetLastError());
  return Status::ok();
}

// Lanes per row: enough for one vector each, between 8 and a warp.
template <class Src, class Q, int kVec>
Status launch_quantize_grouped(QuantizeParams p, CUstream_st* stream) {
  if (p.vecs_per_row <= 8) return launch_quantize<Src, Q, kVec, 8>(p, stream);
  if (p.vecs_per_row <= 16) return launch_quantize<Src, Q, kVec, 16>(p, stream);
  return launch_quantize<Src, Q, kVec, 32>(p, stream);
}

template <class Q, class Dst, int kVec>
Status launch_dequantize(DequantizeParams p, CUstream_st* stream) {
  const int shift = group_shift_for(p.vecs_per_row);
  unsigned blocks = 0;
  DROIDSPEAK_TRY(grid_for(dequantize_rows_kernel<Q, Dst, kVec>, p.map.size(), shift, blocks));
  dequantize_rows_kernel<Q, Dst, kVec><<<blocks, kBlockThreads, 0, stream>>>(p, shift);
  DROIDSPEAK_CUDA_TRY(cudaGetLastError());
  return Status::ok();
}

}  // namespace
}  // namespace detail

Status quantize_kv(const layout::KvQuantizeArgs& a, CUstream_st* stream) {
  DROIDSPEAK_TRY(layout::can_implement(a, layout::IndexMemory::kDevice));
  const std::int64_t dim = a.src.layout.head_dim();
  detail::QuantizeParams p{
      {a.src, a.dst,
       detail::make_kv_rows(a.layers, a.src_tokens, a.dst_token_begin,
                            a.src.layout.num_kv_heads())},
      a.scales, a.dst.layout.num_tokens(), 0, quant_max(a.dst.dtype)};
  if (p.map.size() == 0) return Status::ok();
  return dispatch_dtype(a.src.dtype, [&](auto s_tag) {
    return dispatch_dtype(a.dst.dtype, [&](auto q_tag) {
      using Src = typename decltype(s_tag)::type;
      using Q = typename decltype(q_tag)::type;
      if constexpr (sizeof(Q) == 1 && sizeof(Src) > 1) {
        constexpr int kVec = detail::vec_elements(sizeof(Src), sizeof(Q));
        if (detail::vectorizable(dim, kVec,
                                 {a.src.k_data, a.src.v_data, a.dst.k_data, a.dst.v_data})) {
          p.vecs_per_row = dim / kVec;
          return detail::launch_quantize_grouped<Src, Q, kVec>(p, stream);
        }
        p.vecs_per_row = dim;
        return detail::launch_quantize_grouped<Src, Q, 1>(p, stream);
      } else {
        return Status::internal("quantize_kv: dtype pair passed can_implement but has no kernel");
      }
    });
  });
}

Status dequantize_kv(const layout::KvDequantizeArgs& a, CUstream_st* stream) {
  DROIDSPEAK_TRY(layout::can_implement(a, layout::IndexMemory::kDevice));
  const std::int64_t dim = a.src.layout.head_dim();
  detail::DequantizeParams p{
      {a.src, a.dst,
       detail::make_kv_rows(a.layers, a.src_tokens, a.dst_token_begin,
                            a.src.layout.num_kv_heads())},
      a.scales, a.src.layout.num_tokens(), 0};
  if (p.map.size() == 0) return Status::ok();
  return dispatch_dtype(a.src.dtype, [&](auto q_tag) {
    return dispatch_dtype(a.dst.dtype, [&](auto d_tag) {
      using Q = typename decltype(q_tag)::type;
      using Dst = typename decltype(d_tag)::type;
      if constexpr (sizeof(Q) == 1 && sizeof(Dst) > 1) {
        constexpr int kVec = detail::vec_elements(sizeof(Q), sizeof(Dst));
        if (detail::vectorizable(dim, kVec,
                                 {a.src.k_data, a.src.v_data, a.dst.k_data, a.dst.v_data})) {
          p.vecs_per_row = dim / kVec;
          return detail::launch_dequantize<Q, Dst, kVec>(p, stream);
        }
        p.vecs_per_row = dim;
        return detail::launch_dequantize<Q, Dst, 1>(p, stream);
      } else {
        return Status::internal("dequantize_kv: dtype pair passed can_implement but has no kernel");
      }
    });
  });
}

}  // namespace droidspeak::inline DROIDSPEAK_ABI::cuda
