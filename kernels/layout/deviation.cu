// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file CUDA per-layer deviation between two KV caches: a fixed grid of blocks writes
//! partial sums (CUB block reductions, double) to the caller's workspace, and a second
//! kernel adds them in a fixed order, so the result is the same bits on every run.
#include "droidspeak/cuda/layout.hpp"

#include "common.cuh"

#include "droidspeak/core/dispatch.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/layout/deviation.hpp"
#include "droidspeak/layout/operations.hpp"

#include <cub/block/block_reduce.cuh>  // cub::BlockReduce: a block's partial sums
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace cuda {
namespace detail {
namespace {

// Blocks per (layer, K|V): one per 16 tokens, at most 256 (one layer's K and V alone fill
// more than the 132 SMs of an H100/H200). A function of the arguments only, never of the
// device, so the summation order (and the result) is the same everywhere.
constexpr std::int64_t kTokensPerBlock = 16;
constexpr std::int64_t kMaxBlocksPerPart = 256;

//! The sums of one block (or, after the final kernel, of one layer's K or V).
struct Partial {
  double sum_sq_diff;
  double sum_sq_a;
  double sum_sq_b;
  double dot;
  double max_abs;
  long long count;
};

// max that keeps a NaN once seen, as the host loop does.
struct NanMax {
  DROIDSPEAK_HOST_DEVICE double operator()(double a, double b) const {
    return (b > a || b != b) ? b : a;
  }
};

struct DeviationParams {
  layout::KvSide a;  // strides and page divider of each cache
  layout::KvSide b;
  KvBases<const std::byte> a_bases;
  KvBases<const std::byte> b_bases;
  LayerTable layers;
  std::int64_t token_begin;
  std::int64_t num_tokens;
  std::int64_t num_heads;
  std::int64_t vecs_per_row;
  int group_shift;  // log2 of the lanes sharing a row
  std::int64_t blocks_per_part;
  Partial* partials;  // [layers.count][2][blocks_per_part]
};

struct FinalParams {
  LayerTable layers;
  std::int64_t blocks_per_part;
  const Partial* partials;  // [layers.count][2][blocks_per_part]
  layout::KvDeviation* out;  // [>= largest layer + 1]
};

// Block (part_index, i) of a layer's K or V takes tokens i * G + g, stepping by
// G * blocks_per_part, where G is the number of lane groups per block and g this thread's
// group; a group looks each token's pages up once and walks its heads, its lanes
// splitting each row's vectors. The mapping depends only on the arguments, so every run
// adds the same numbers in the same order.
// Heads whose vector pairs one lane loads before adding any of them.
constexpr int kHeadsInFlight = 4;

template <class A, class B, int kVec>
__global__ void __launch_bounds__(kBlockThreads)
    deviation_partial_kernel(const __grid_constant__ DeviationParams p) {
  const std::int64_t part_index = blockIdx.x / p.blocks_per_part;
  const std::int64_t block_in_part = blockIdx.x % p.blocks_per_part;
  const std::int64_t layer = p.layers.layer[part_index >> 1];
  const auto part = static_cast<layout::KvPart>(part_index & 1);
  const int group_size = 1 << p.group_shift;
  const int groups = kBlockThreads >> p.group_shift;
  const int group = static_cast<int>(threadIdx.x) >> p.group_shift;
  const int lane = static_cast<int>(threadIdx.x) & (group_size - 1);

  double sum_sq_diff = 0.0;
  double sum_sq_a = 0.0;
  double sum_sq_b = 0.0;
  double dot = 0.0;
  double max_abs = 0.0;
  long long count = 0;
  for (std::int64_t q = block_in_part * groups + group; q < p.num_tokens;
       q += p.blocks_per_part * groups) {
    const std::int64_t t = p.token_begin + q;
    const std::int64_t oa = p.a.token_offset(layer, part, t);
    const std::int64_t ob = p.b.token_offset(layer, part, t);
    if (oa < 0 || ob < 0) continue;  // a page outside its pool
    const std::byte* ta = p.a_bases.at(part, oa);
    const std::byte* tb = p.b_bases.at(part, ob);
    // Adds one vector pair: the only place the sums grow, so both walks below add the
    // same numbers in the same order (heads, then vectors, then elements).
    const auto accumulate = [&](const Vec<A, kVec>& va, const Vec<B, kVec>& vb) {
      DROIDSPEAK_UNROLL
      for (int i = 0; i < kVec; ++i) {
        const double x = to_float(va.v[i]);
        const double y = to_float(vb.v[i]);
        const double d = x - y;
        sum_sq_diff += d * d;
        sum_sq_a += x * x;
        sum_sq_b += y * y;
        dot += x * y;
        const double ad = d < 0.0 ? -d : d;
        if (ad > max_abs || ad != ad) max_abs = ad;
      }
      count += kVec;
    };
    if (p.vecs_per_row <= group_size) {
      // At most one vector per lane and row: kHeadsInFlight heads' loads are issued before
      // their sums, which then run in head order as in the loop below.
      if (lane >= p.vecs_per_row) continue;
      for (std::int64_t h0 = 0; h0 < p.num_heads; h0 += kHeadsInFlight) {
        Vec<A, kVec> va[kHeadsInFlight];
        Vec<B, kVec> vb[kHeadsInFlight];
        DROIDSPEAK_UNROLL
        for (int j = 0; j < kHeadsInFlight; ++j) {
          if (h0 + j < p.num_heads) {
            va[j] = load_vec<A, kVec>(
                reinterpret_cast<const A*>(ta + (h0 + j) * p.a_bases.head_bytes) + lane * kVec);
            vb[j] = load_vec<B, kVec>(
                reinterpret_cast<const B*>(tb + (h0 + j) * p.b_bases.head_bytes) + lane * kVec);
          }
        }
        DROIDSPEAK_UNROLL
        for (int j = 0; j < kHeadsInFlight; ++j) {
          if (h0 + j < p.num_heads) accumulate(va[j], vb[j]);
        }
      }
      continue;
    }
    for (std::int64_t h = 0; h < p.num_heads; ++h) {
      const A* pa = reinterpret_cast<const A*>(ta + h * p.a_bases.head_bytes);
      const B* pb = reinterpret_cast<const B*>(tb + h * p.b_bases.head_bytes);
      for (std::int64_t c = lane; c < p.vecs_per_row; c += group_size) {
        accumulate(load_vec<A, kVec>(pa + c * kVec), load_vec<B, kVec>(pb + c * kVec));
      }
    }
  }

  using DoubleReduce = cub::BlockReduce<double, kBlockThreads>;
  using CountReduce = cub::BlockReduce<long long, kBlockThreads>;
  __shared__ typename DoubleReduce::TempStorage temp;
  __shared__ typename CountReduce::TempStorage count_temp;
  Partial out;
  out.sum_sq_diff = DoubleReduce(temp).Sum(sum_sq_diff);
  __syncthreads();
  out.sum_sq_a = DoubleReduce(temp).Sum(sum_sq_a);
  __syncthreads();
  out.sum_sq_b = DoubleReduce(temp).Sum(sum_sq_b);
  __syncthreads();
  out.dot = DoubleReduce(temp).Sum(dot);
  __syncthreads();
  out.max_abs = DoubleReduce(temp).Reduce(max_abs, NanMax{});
  out.count = CountReduce(count_temp).Sum(count);
  if (threadIdx.x == 0) p.partials[blockIdx.x] = out;  // block aggregates live in thread 0
}

// One thread per selected layer adds its blocks' partials in block order.
__global__ void deviation_final_kernel(const __grid_constant__ FinalParams p) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= p.layers.count) return;
  layout::KvDeviation result;
  for (int part = 0; part < 2; ++part) {
    const Partial* first = p.partials + (i * 2 + part) * p.blocks_per_part;
    Partial acc = first[0];
    for (std::int64_t b = 1; b < p.blocks_per_part; ++b) {
      const Partial& x = first[b];
      acc.sum_sq_diff += x.sum_sq_diff;
      acc.sum_sq_a += x.sum_sq_a;
      acc.sum_sq_b += x.sum_sq_b;
      acc.dot += x.dot;
      acc.max_abs = NanMax{}(acc.max_abs, x.max_abs);
      acc.count += x.count;
    }
    layout::DeviationStats& st = part == 0 ? result.k : result.v;
    st.sum_sq_diff = acc.sum_sq_diff;
    st.sum_sq_a = acc.sum_sq_a;
    st.sum_sq_b = acc.sum_sq_b;
    st.dot = acc.dot;
    st.max_abs = acc.max_abs;
    st.count = acc.count;
  }
  p.out[p.layers.layer[i]] = result;
}

//! The grid and workspace of a deviation: computed the same way for the size query and
//! the run, so the two cannot disagree.
struct DeviationPlan {
  std::int64_t blocks_per_part;
  std::int64_t parts;  // selected layers x 2
  std::size_t workspace_bytes;
};

DeviationPlan plan_deviation(const layout::KvDeviationArgs& a) {
  std::int64_t bpp = (a.tokens.size() + kTokensPerBlock - 1) / kTokensPerBlock;
  bpp = bpp < 1 ? 1 : (bpp > kMaxBlocksPerPart ? kMaxBlocksPerPart : bpp);
  const std::int64_t parts = a.layers.count() * 2;
  return {bpp, parts, static_cast<std::size_t>(parts * bpp) * sizeof(Partial)};
}

template <class A, class B, int kVec>
Status launch_deviation(DeviationParams p, const DeviationPlan& plan, layout::KvDeviation* d_out,
                        CUstream_st* stream) {
  deviation_partial_kernel<A, B, kVec>
      <<<static_cast<unsigned>(plan.parts * plan.blocks_per_part), kBlockThreads, 0, stream>>>(p);
  DROIDSPEAK_CUDA_TRY(cudaGetLastError());
  const FinalParams f{p.layers, p.blocks_per_part, p.partials, d_out};
  constexpr int kFinalThreads = 64;
  const auto blocks = static_cast<unsigned>((p.layers.count + kFinalThreads - 1) / kFinalThreads);
  deviation_final_kernel<<<blocks, kFinalThreads, 0, stream>>>(f);
  DROIDSPEAK_CUDA_TRY(cudaGetLastError());
  return Status::ok();
}

}  // namespace
}  // namespace detail

Status kv_deviation(const layout::KvDeviationArgs& a, layout::KvDeviation* d_out,
                    void* d_workspace, std::size_t& workspace_bytes, CUstream_st* stream) {
  DROIDSPEAK_TRY(layout::can_implement(a, layout::IndexMemory::kDevice));
  const detail::DeviationPlan plan = detail::plan_deviation(a);
  if (d_workspace == nullptr) {
    workspace_bytes = plan.workspace_bytes;
    return Status::ok();
  }
  if (workspace_bytes < plan.workspace_bytes) {
    return Status(StatusCode::kErrorWorkspaceTooSmall,
                  "kv_deviation: workspace of " + std::to_string(workspace_bytes) +
                      " bytes, need " + std::to_string(plan.workspace_bytes));
  }
  if (!detail::aligned({d_workspace}, alignof(detail::Partial))) {
    return Status::invalid_argument("kv_deviation: workspace is not 8-byte aligned");
  }
  if (d_out == nullptr) return Status::invalid_argument("kv_deviation: d_out is null");
  if (plan.parts == 0) return Status::ok();
  const std::int64_t dim = a.a.layout.head_dim();
  detail::DeviationParams p{layout::KvSide::of(a.a.layout),
                            layout::KvSide::of(a.b.layout),
                            detail::KvBases<const std::byte>::of(a.a),
                            detail::KvBases<const std::byte>::of(a.b),
                            detail::make_layer_table(a.layers),
                            a.tokens.begin,
                            a.tokens.size(),
                            a.a.layout.num_kv_heads(),
                            0,
                            0,
                            plan.blocks_per_part,
                            static_cast<detail::Partial*>(d_workspace)};
  return dispatch_dtype(a.a.dtype, [&](auto a_tag) {
    return dispatch_dtype(a.b.dtype, [&](auto b_tag) {
      using A = typename decltype(a_tag)::type;
      using B = typename decltype(b_tag)::type;
      constexpr int kVec = detail::vec_elements(sizeof(A), sizeof(B));
      if (detail::vectorizable(dim, kVec, {a.a.k_data, a.a.v_data, a.b.k_data, a.b.v_data})) {
        p.vecs_per_row = dim / kVec;
        p.group_shift = detail::group_shift_for(p.vecs_per_row);
        return detail::launch_deviation<A, B, kVec>(p, plan, d_out, stream);
      }
      p.vecs_per_row = dim;
      p.group_shift = detail::group_shift_for(p.vecs_per_row);
      return detail::launch_deviation<A, B, 1>(p, plan, d_out, stream);
    });
  });
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::cuda
