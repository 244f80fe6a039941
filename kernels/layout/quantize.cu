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
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
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

// Hardware conversions on sm_89+, which has fp8 conversion instructions. Each is the very
// instruction the device conversion test (tests/cuda/layout/conversion_test.cu) compares
// with core/dtype.hpp's emulation on every tested input, so results stay bit-identical to
// the host; older architectures, f32 and int8 keep the emulation.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
constexpr bool kHardwareFp8 = true;
#else
constexpr bool kHardwareFp8 = false;
#endif

// quantize_value for every element of a vector: x * inv rounded into Q. fp8 pairs go through
// cvt.rn.satfinite.e4m3x2.f32, the instruction of __nv_cvt_float_to_fp8(x, __NV_SATFINITE,
// __NV_E4M3) (its low byte is the pair's first element).
template <class Q, class Src, int kVec>
__device__ __forceinline__ Vec<Q, kVec> quantize_vec(const Vec<Src, kVec>& in, float inv) {
  Vec<Q, kVec> out;
  if constexpr (kHardwareFp8 && DTypeOf<Q>::value == DType::kFP8E4M3 && kVec % 2 == 0) {
    DROIDSPEAK_UNROLL
    for (int i = 0; i < kVec; i += 2) {
      const float2 x = make_float2(to_float(in.v[i]) * inv, to_float(in.v[i + 1]) * inv);
      const __nv_fp8x2_storage_t pair = __nv_cvt_float2_to_fp8x2(x, __NV_SATFINITE, __NV_E4M3);
      out.v[i].bits = static_cast<std::uint8_t>(pair & 0xFFu);
      out.v[i + 1].bits = static_cast<std::uint8_t>(pair >> 8);
    }
  } else {
    DROIDSPEAK_UNROLL
    for (int i = 0; i < kVec; ++i) out.v[i] = layout::quantize_value<Q>(to_float(in.v[i]), inv);
  }
  return out;
}

// Rounds f into a 16-bit float type with the intrinsic the conversion test compares
// from_float with (NaN gives 0x7FFF either way).
template <class Dst>
__device__ __forceinline__ Dst narrow_hw(float f) {
  if constexpr (DTypeOf<Dst>::value == DType::kBF16) {
    return Dst{__nv_bfloat16_raw(__float2bfloat16_rn(f)).x};
  } else {
    return Dst{__half_raw(__float2half_rn(f)).x};
  }
}

// dequantize_value for every element of a vector. fp8 pairs widen through
// cvt.rn.f16x2.e4m3x2 (exact; the test checks every fp8 value against to_float), then f32.
// A NaN's payload may differ from the emulation's before the product, so this path is
// taken only for 16-bit destinations, where every NaN rounds to 0x7FFF.
template <class Dst, class Q, int kVec>
__device__ __forceinline__ Vec<Dst, kVec> dequantize_vec(const Vec<Q, kVec>& in, float scale) {
  Vec<Dst, kVec> out;
  constexpr DType kDst = DTypeOf<Dst>::value;
  if constexpr (kHardwareFp8 && DTypeOf<Q>::value == DType::kFP8E4M3 &&
                (kDst == DType::kBF16 || kDst == DType::kF16) && kVec % 2 == 0) {
    DROIDSPEAK_UNROLL
    for (int i = 0; i < kVec; i += 2) {
      const auto pair = static_cast<__nv_fp8x2_storage_t>(
          static_cast<unsigned>(in.v[i].bits) | (static_cast<unsigned>(in.v[i + 1].bits) << 8));
      const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(pair, __NV_E4M3);
      __half_raw lo;
      lo.x = h.x;
      __half_raw hi;
      hi.x = h.y;
      out.v[i] = narrow_hw<Dst>(__half2float(__half(lo)) * scale);
      out.v[i + 1] = narrow_hw<Dst>(__half2float(__half(hi)) * scale);
    }
  } else {
    DROIDSPEAK_UNROLL
    for (int i = 0; i < kVec; ++i) out.v[i] = layout::dequantize_value<Dst>(in.v[i], scale);
  }
  return out;
}

// Heads whose rows one lane holds in registers at once (loads issued before stores).
constexpr int kHeadsInFlight = 4;

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
  // A row of at most one vector per lane (head_dim 128 and bf16: 8 lanes) stays in
  // registers: kHeadsInFlight heads are loaded, then each is reduced, quantised and stored.
  const bool one_vec_per_lane = p.vecs_per_row <= kGroup;
  const bool lane_has_vec = w.lane < p.vecs_per_row;
  for_each_token_unit(p.map, w, [&](const layout::KvTokenUnit& unit, const std::byte* s,
                                    std::byte* d) {
    float* scale_row = p.scales + layout::scale_index(unit.layer, unit.part, unit.dst_token, 0,
                                                      p.scale_tokens, heads);
    if (one_vec_per_lane) {
      for (std::int64_t h0 = 0; h0 < heads; h0 += kHeadsInFlight) {
        Vec<Src, kVec> in[kHeadsInFlight];
        DROIDSPEAK_UNROLL
        for (int j = 0; j < kHeadsInFlight; ++j) {
          if (lane_has_vec && h0 + j < heads) {
            in[j] = load_vec<Src, kVec>(reinterpret_cast<const Src*>(
                        s + (h0 + j) * p.map.src_head_bytes()) + w.lane * kVec);
          }
        }
        DROIDSPEAK_UNROLL
        for (int j = 0; j < kHeadsInFlight; ++j) {
          if (h0 + j >= heads) break;  // the same for every lane of the group
          float absmax = 0.0f;
          if (lane_has_vec) {
            DROIDSPEAK_UNROLL
            for (int i = 0; i < kVec; ++i) {
              const float v = layout::abs_for_scale(to_float(in[j].v[i]));
              absmax = v > absmax ? v : absmax;
            }
          }
          absmax = WarpReduce(temp[group_in_block]).Reduce(absmax, AbsMax{});  // lane 0
          absmax = __shfl_sync(group_mask, absmax, 0, kGroup);
          const layout::RowScale rs = layout::row_scale(absmax, p.qmax);
          if (lane_has_vec) {
            Q* dp = reinterpret_cast<Q*>(d + (h0 + j) * p.map.dst_head_bytes());
            store_vec<Q, kVec>(dp + w.lane * kVec, quantize_vec<Q>(in[j], rs.inv_scale));
          }
          if (w.lane == 0) scale_row[h0 + j] = rs.scale;
        }
      }
      return;
    }
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
        store_vec<Q, kVec>(dp + c * kVec, quantize_vec<Q>(in, rs.inv_scale));
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
  const bool one_vec_per_lane = p.vecs_per_row <= group;
  const bool lane_has_vec = w.lane < p.vecs_per_row;
  for_each_token_unit(p.map, w, [&](const layout::KvTokenUnit& unit, const std::byte* s,
                                    std::byte* d) {
    const float* scale_row = p.scales + layout::scale_index(unit.layer, unit.part, unit.src_token,
                                                            0, p.scale_tokens, heads);
    if (one_vec_per_lane) {
      // kHeadsInFlight heads' vectors and scales loaded before any is stored.
      if (!lane_has_vec) return;
      for (std::int64_t h0 = 0; h0 < heads; h0 += kHeadsInFlight) {
        Vec<Q, kVec> in[kHeadsInFlight];
        float scale[kHeadsInFlight];
        DROIDSPEAK_UNROLL
        for (int j = 0; j < kHeadsInFlight; ++j) {
          if (h0 + j < heads) {
            scale[j] = __ldg(scale_row + h0 + j);
            in[j] = load_vec<Q, kVec>(reinterpret_cast<const Q*>(
                        s + (h0 + j) * p.map.src_head_bytes()) + w.lane * kVec);
          }
        }
        DROIDSPEAK_UNROLL
        for (int j = 0; j < kHeadsInFlight; ++j) {
          if (h0 + j < heads) {
            Dst* dp = reinterpret_cast<Dst*>(d + (h0 + j) * p.map.dst_head_bytes());
            store_vec<Dst, kVec>(dp + w.lane * kVec, dequantize_vec<Dst>(in[j], scale[j]));
          }
        }
      }
      return;
    }
    for (std::int64_t h = 0; h < heads; ++h) {
      const float scale = __ldg(scale_row + h);
      const Q* sp = reinterpret_cast<const Q*>(s + h * p.map.src_head_bytes());
      Dst* dp = reinterpret_cast<Dst*>(d + h * p.map.dst_head_bytes());
      for (std::int64_t c = w.lane; c < p.vecs_per_row; c += group) {
        const Vec<Q, kVec> in = load_vec<Q, kVec>(sp + c * kVec);
        store_vec<Dst, kVec>(dp + c * kVec, dequantize_vec<Dst>(in, scale));
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
