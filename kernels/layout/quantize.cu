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
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace cuda {
namespace detail {
namespace {

struct QuantizeParams {
  static constexpr bool kQuantize = true;  // float -> one-byte type
  KvCopyMap map;
  float* scales;               // [dst layers][2][dst tokens][heads]
  std::int64_t scale_tokens;   // tokens of the destination cache
  std::int64_t vecs_per_row;
  float qmax;
};

struct DequantizeParams {
  static constexpr bool kQuantize = false;  // one-byte type -> float
  KvCopyMap map;
  const float* scales;         // [src layers][2][src tokens][heads]
  std::int64_t scale_tokens;   // tokens of the source cache
  std::int64_t vecs_per_row;
};

// The larger of two non-negative, non-NaN values (abs_for_scale already mapped NaN to 0).
struct AbsMax {
  DROIDSPEAK_DEVICE float operator()(float a, float b) const { return b > a ? b : a; }
};

// Calls body(unit, s, d) for every token unit of `map` that this thread's group takes, with
// the unit's first source and destination rows. A unit whose page lies outside the pool is
// passed over by every lane of the group alike, so the group's shuffles stay converged.
template <class Body>
__device__ __forceinline__ void for_each_token_unit(const KvCopyMap& map, const RowWalk& w,
                                                    Body&& body) {
  const std::int64_t units = map.size();
  for (std::int64_t u = w.first; u < units; u += w.stride) {
    layout::KvTokenUnit unit;
    const std::byte* s = nullptr;
    std::byte* d = nullptr;
    if (map.at(u, unit, s, d)) body(unit, s, d);
  }
}

// Each row belongs to a logical warp of kGroup lanes: every lane reads its vectors for the
// absmax, the logical warp reduces it and broadcasts it, then every lane quantises the same
// vectors again (they are in L1) with the reciprocal scale, and lane 0 writes the scale.
// A logical warp takes a token unit (one page lookup) and its heads in turn.
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
  const std::int64_t heads = p.map.heads();
  for_each_token_unit(p.map, w, [&](const layout::KvTokenUnit& unit, const std::byte* s,
                                    std::byte* d) {
    float* scale_row = p.scales + layout::scale_index(unit.layer, unit.part, unit.dst_token, 0,
                                                      p.scale_tokens, heads);
    for (std::int64_t h = 0; h < heads; ++h) {
      const Src* sp = reinterpret_cast<const Src*>(s + h * p.map.src_head_bytes());
      Q* dp = reinterpret_cast<Q*>(d + h * p.map.dst_head_bytes());
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
      if (w.lane == 0) scale_row[h] = rs.scale;
    }
  });
}

template <class Q, class Dst, int kVec>
__global__ void __launch_bounds__(kBlockThreads)
    dequantize_rows_kernel(const __grid_constant__ DequantizeParams p, int group_shift) {
  const RowWalk w = row_walk(blockIdx.x, gridDim.x, threadIdx.x, group_shift);
  const int group = 1 << group_shift;
  const std::int64_t heads = p.map.heads();
  for_each_token_unit(p.map, w, [&](const layout::KvTokenUnit& unit, const std::byte* s,
                                    std::byte* d) {
    const float* scale_row = p.scales + layout::scale_index(unit.layer, unit.part, unit.src_token,
                                                            0, p.scale_tokens, heads);
    for (std::int64_t h = 0; h < heads; ++h) {
      const float scale = __ldg(scale_row + h);
      const Q* sp = reinterpret_cast<const Q*>(s + h * p.map.src_head_bytes());
      Dst* dp = reinterpret_cast<Dst*>(d + h * p.map.dst_head_bytes());
      for (std::int64_t c = w.lane; c < p.vecs_per_row; c += group) {
        const Vec<Q, kVec> in = load_vec<Q, kVec>(sp + c * kVec);
        Vec<Dst, kVec> out;
        DROIDSPEAK_UNROLL
        for (int i = 0; i < kVec; ++i) out.v[i] = layout::dequantize_value<Dst>(in.v[i], scale);
        store_vec<Dst, kVec>(dp + c * kVec, out);
      }
    }
  });
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
Status launch(QuantizeParams p, CUstream_st* stream) {
  if (p.vecs_per_row <= 8) return launch_quantize<Src, Q, kVec, 8>(p, stream);
  if (p.vecs_per_row <= 16) return launch_quantize<Src, Q, kVec, 16>(p, stream);
  return launch_quantize<Src, Q, kVec, 32>(p, stream);
}

template <class Q, class Dst, int kVec>
Status launch(DequantizeParams p, CUstream_st* stream) {
  const int shift = group_shift_for(p.vecs_per_row);
  unsigned blocks = 0;
  DROIDSPEAK_TRY(grid_for(dequantize_rows_kernel<Q, Dst, kVec>, p.map.size(), shift, blocks));
  dequantize_rows_kernel<Q, Dst, kVec><<<blocks, kBlockThreads, 0, stream>>>(p, shift);
  DROIDSPEAK_CUDA_TRY(cudaGetLastError());
  return Status::ok();
}

// The launch shared by both directions: a (float, quantised) dtype pair in `From -> To`
// order, vectorised when head_dim and every base allow. `Params` is QuantizeParams or
// DequantizeParams; its map, scales and tokens are filled, vecs_per_row is set here.
template <class Params, class Args>
Status launch_fused(Params p, const Args& a, const char* op, CUstream_st* stream) {
  if (p.map.size() == 0) return Status::ok();
  const std::int64_t dim = a.src.layout.head_dim();
  return dispatch_dtype(a.src.dtype, [&](auto s_tag) {
    return dispatch_dtype(a.dst.dtype, [&](auto d_tag) {
      using From = typename decltype(s_tag)::type;
      using To = typename decltype(d_tag)::type;
      // The one-byte quantised type on the side the direction names (can_implement checked
      // the pair at run time; this keeps the other pairs from being instantiated).
      constexpr bool kFromQuantized = sizeof(From) == 1 && sizeof(To) > 1;
      constexpr bool kToQuantized = sizeof(To) == 1 && sizeof(From) > 1;
      if constexpr (Params::kQuantize ? kToQuantized : kFromQuantized) {
        constexpr int kVec = vec_elements(sizeof(From), sizeof(To));
        if (vectorizable(dim, kVec, {a.src.k_data, a.src.v_data, a.dst.k_data, a.dst.v_data})) {
          p.vecs_per_row = dim / kVec;
          return launch<From, To, kVec>(p, stream);
        }
        p.vecs_per_row = dim;
        return launch<From, To, 1>(p, stream);
      } else {
        return Status::internal(std::string(op) +
                                ": dtype pair passed can_implement but has no kernel");
      }
    });
  });
}

}  // namespace
}  // namespace detail

Status quantize_kv(const layout::KvQuantizeArgs& a, CUstream_st* stream) {
  DROIDSPEAK_TRY(layout::can_implement(a, layout::IndexMemory::kDevice));
  const detail::QuantizeParams p{
      detail::KvCopyMap::make(a.src, a.dst, a.layers, a.src_tokens, a.dst_token_begin), a.scales,
      a.dst.layout.num_tokens(), 0, quant_max(a.dst.dtype)};
  return detail::launch_fused(p, a, "quantize_kv", stream);
}

Status dequantize_kv(const layout::KvDequantizeArgs& a, CUstream_st* stream) {
  DROIDSPEAK_TRY(layout::can_implement(a, layout::IndexMemory::kDevice));
  const detail::DequantizeParams p{
      detail::KvCopyMap::make(a.src, a.dst, a.layers, a.src_tokens, a.dst_token_begin), a.scales,
      a.src.layout.num_tokens(), 0};
  return detail::launch_fused(p, a, "dequantize_kv", stream);
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::cuda
