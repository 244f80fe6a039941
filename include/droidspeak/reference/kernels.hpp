// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The reference engine's row kernels (RMSNorm, rotary embeddings, SwiGLU, softmax) and
//! its CBLAS matrix products, all in f32, as HF transformers' Llama computes them.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/simd_level.hpp"
#include "droidspeak/io/hf_config.hpp"  // io::HfConfig (head_dim, rope)
#include "droidspeak/layout/rope.hpp"

#include <cblas.h>  // cblas_sgemm (OpenBLAS)

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace reference {

//! The rotary inverse frequencies [head_dim / 2] of HF's `_compute_default_rope_parameters`
//! (1 / theta^(2i / head_dim), computed in f32 like torch: every setting is rounded to f32
//! once, then all arithmetic is f32), rescaled by `_compute_llama3_parameters` when
//! `cfg.rope.llama3_scaling`: wavelengths 2*pi/f shorter
//! than original_max_position_embeddings / high_freq_factor are kept, longer than
//! original / low_freq_factor are divided by `factor`, and the band between interpolates
//! with smooth = (original / wavelen - low) / (high - low): (1 - smooth) * f / factor + smooth * f.
inline std::vector<float> rope_inv_freq(const io::HfConfig& cfg) {
  const layout::RopeSettings& rope = cfg.rope;
  const float theta = static_cast<float>(rope.theta);
  const std::int64_t half = cfg.head_dim / 2;
  std::vector<float> inv(static_cast<std::size_t>(half));
  for (std::int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(cfg.head_dim);
    inv[static_cast<std::size_t>(i)] = 1.0f / std::pow(theta, exponent);
  }
  if (!rope.llama3_scaling) return inv;
  const float factor = static_cast<float>(rope.factor);
  const float low = static_cast<float>(rope.low_freq_factor);
  const float high = static_cast<float>(rope.high_freq_factor);
  const float old_len = static_cast<float>(rope.original_max_position_embeddings);
  const float low_wavelen = old_len / low;
  const float high_wavelen = old_len / high;
  for (float& f : inv) {
    const float wavelen = 2.0f * std::numbers::pi_v<float> / f;
    if (wavelen < high_wavelen) continue;
    if (wavelen > low_wavelen) {
      f = f / factor;
    } else {
      const float smooth = (old_len / wavelen - low) / (high - low);
      f = (1.0f - smooth) * f / factor + smooth * f;
    }
  }
  return inv;
}

//! cos and sin [head_dim / 2] of position `pos`: angle_i = f32(pos) * inv_freq_i.
inline void rope_cos_sin(std::int64_t pos, const std::vector<float>& inv_freq, float* cos_out,
                         float* sin_out) {
  for (std::size_t i = 0; i < inv_freq.size(); ++i) {
    const float angle = static_cast<float>(pos) * inv_freq[i];
    cos_out[i] = std::cos(angle);
    sin_out[i] = std::sin(angle);
  }
}

//! HF's rotate-half rotary embedding, in place, for `heads` consecutive heads of one token:
//! for i < d/2, (x_i, x_{i+d/2}) -> (x_i cos_i - x_{i+d/2} sin_i, x_{i+d/2} cos_i + x_i sin_i).
//! @param x [heads][head_dim]  @param cos_v, sin_v [head_dim / 2]
inline void apply_rope(float* x, std::int64_t heads, std::int64_t head_dim, const float* cos_v,
                       const float* sin_v) {
  const std::int64_t half = head_dim / 2;
  for (std::int64_t h = 0; h < heads; ++h) {
    float* a = x + h * head_dim;
    float* b = a + half;
    for (std::int64_t i = 0; i < half; ++i) {
      const float x1 = a[i], x2 = b[i];
      a[i] = x1 * cos_v[i] - x2 * sin_v[i];
      b[i] = x2 * cos_v[i] + x1 * sin_v[i];
    }
  }
}

//! Four f32 lanes as a GCC/Clang vector extension (SSE2 on x86-64, NEON on arm64): lets the
//! exp-heavy loops vectorise without -ffast-math or target flags.
using F32x4 = float __attribute__((vector_size(16)));
using U32x4 = std::uint32_t __attribute__((vector_size(16)));

namespace detail {
// f32 and u32 vectors of W lanes. Spelled out per width: GCC drops vector_size on an alias
// template, so a dependent size would silently give a scalar.
template <int W>
struct Lanes;
template <>
struct Lanes<4> {
  using f32 = F32x4;
  using u32 = U32x4;
};
template <>
struct Lanes<8> {
  using f32 = float __attribute__((vector_size(32)));
  using u32 = std::uint32_t __attribute__((vector_size(32)));
};
template <>
struct Lanes<16> {
  using f32 = float __attribute__((vector_size(64)));
  using u32 = std::uint32_t __attribute__((vector_size(64)));
};

// exp_f32x4's arithmetic on W lanes, in place (see map_lanes for why not by value): every
// lane sees the same operations in the same order whatever W is, so every width gives the
// same bits (no contraction into FMA: see core/simd_level.hpp).
template <int W>
[[gnu::always_inline]] inline void exp_lanes(typename Lanes<W>::f32& x) {
  DROIDSPEAK_NO_FP_CONTRACT
  using V = typename Lanes<W>::f32;
  using U = typename Lanes<W>::u32;
  const V lo = V{} - 87.0f, hi = V{} + 88.0f;
  // Written so that NaN fails both comparisons and passes through unchanged.
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  const V v = x * 1.44269504088896341f + 12582912.0f;  // k + 1.5 * 2^23, k in the low bits
  const V k = v - 12582912.0f;
  const V r = (x - k * 0.693359375f) + k * 2.12194440e-4f;
  const V z = r * r;
  const V y = ((((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                  4.1665795894e-2f) * r + 1.6666665459e-1f) * r + 5.0000001201e-1f) * z + r) +
              1.0f;
  // The builtin, not std::bit_cast: that is a function returning a wide vector by value.
  const U bits = (__builtin_bit_cast(U, v) - 0x4B400000u + 127u) << 23;
  x = y * __builtin_bit_cast(V, bits);
}
}  // namespace detail

//! exp of four lanes without a libm call: Cephes' expf (round(x / ln 2) by the 1.5 * 2^23
//! trick, reduction by ln 2 in two parts, degree-7 polynomial, 2^k through exponent bits).
//! Relative error below 2e-7 on [-87, 88]; other numbers are clamped to that range (so
//! exp(-inf) gives ~1.6e-38, not 0). NaN propagates: a NaN lane gives NaN, so a NaN score
//! poisons its softmax row instead of turning into a finite weight.
inline F32x4 exp_f32x4(F32x4 x) {
  detail::exp_lanes<4>(x);
  return x;
}

//! exp_f32x4 of one value (bit-identical to the lanes).
inline float exp_f32(float x) {
  const F32x4 v = {x, x, x, x};
  return exp_f32x4(v)[0];
}

namespace detail {
// Applies f to [n] in groups of W lanes, in place (`f(V& x, j)`: a wide vector is neither
// passed nor returned by value, which would change the calling convention outside the wide
// copies); the tail goes through a zero-padded group, so every element sees the same vector
// code whatever n is.
template <int W, class F>
[[gnu::always_inline]] inline void map_lanes(float* out, const float* in, std::int64_t n, F f) {
  using V = typename Lanes<W>::f32;
  std::int64_t j = 0;
  for (; j + W <= n; j += W) {
    V x;
    std::memcpy(&x, in + j, sizeof x);
    f(x, j);
    std::memcpy(out + j, &x, sizeof x);
  }
  if (j < n) {
    V x = {};
    const std::size_t bytes = static_cast<std::size_t>(n - j) * sizeof(float);
    std::memcpy(&x, in + j, bytes);
    f(x, j);
    std::memcpy(out + j, &x, bytes);
  }
}

// The bodies of the row kernels below at W lanes, inlined into one copy per width.
template <int W>
[[gnu::always_inline]] inline void rms_norm_lanes(const float* x, const float* w, float eps, std::int64_t n, float* y) {
  DROIDSPEAK_NO_FP_CONTRACT
  // The sum stays one chain in index order (a double per term, whose square is exact): it is
  // what fixes the result's bits, and at 2 of every 3 H floats read it is a small share of a
  // layer. The scaling below runs at the copy's width.
  double ss = 0.0;
  for (std::int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(n)) + eps);
  map_lanes<W>(y, x, n, [&](typename Lanes<W>::f32& v, std::int64_t j) {
    typename Lanes<W>::f32 wv = {};
    std::memcpy(&wv, w + j, static_cast<std::size_t>(std::min<std::int64_t>(W, n - j)) * sizeof(float));
    v = wv * (v * inv);
  });
}

template <int W>
[[gnu::always_inline]] inline void swiglu_lanes(const float* gate, const float* up, std::int64_t n, float* out) {
  DROIDSPEAK_NO_FP_CONTRACT
  map_lanes<W>(out, gate, n, [&](typename Lanes<W>::f32& g, std::int64_t j) {
    typename Lanes<W>::f32 u = {};
    std::memcpy(&u, up + j, static_cast<std::size_t>(std::min<std::int64_t>(W, n - j)) * sizeof(float));
    typename Lanes<W>::f32 e = -g;
    exp_lanes<W>(e);
    g = g / (1.0f + e) * u;
  });
}

template <int W>
[[gnu::always_inline]] inline void masked_softmax_lanes(float* row, std::int64_t valid, std::int64_t n) {
  DROIDSPEAK_NO_FP_CONTRACT
  // The max at W lanes: any order gives the same value (no rounding; a NaN is never taken,
  // and a +0 or -0 maximum subtracts to the same bits below). The sum over 8 interleaved
  // partials combined in a fixed order: the same at any W.
  using V = typename Lanes<W>::f32;
  V lanes_max = V{} - INFINITY;
  std::int64_t j = 0;
  for (; j + W <= valid; j += W) {
    V x;
    std::memcpy(&x, row + j, sizeof x);
    lanes_max = x > lanes_max ? x : lanes_max;
  }
  float m = -INFINITY;
  for (int k = 0; k < W; ++k) m = lanes_max[k] > m ? lanes_max[k] : m;
  for (; j < valid; ++j) m = row[j] > m ? row[j] : m;
  // exp, and the sum in the same pass over whole chunks of C elements: partial k adds the
  // elements j + k, j in steps of 8, in index order (8 lanes of a vector at any W).
  using V8 = typename Lanes<8>::f32;
  constexpr int C = W < 8 ? 8 : W;
  V8 acc = {};
  for (j = 0; j + C <= valid; j += C) {
    V x[C / W];
    for (int w = 0; w < C / W; ++w) {
      std::memcpy(&x[w], row + j + w * W, sizeof(V));
      x[w] -= m;
      exp_lanes<W>(x[w]);
      std::memcpy(row + j + w * W, &x[w], sizeof(V));
    }
    if constexpr (W == 4) {
      acc += __builtin_shufflevector(x[0], x[1], 0, 1, 2, 3, 4, 5, 6, 7);
    } else if constexpr (W == 8) {
      acc += x[0];
    } else {
      acc += __builtin_shufflevector(x[0], x[0], 0, 1, 2, 3, 4, 5, 6, 7);
      acc += __builtin_shufflevector(x[0], x[0], 8, 9, 10, 11, 12, 13, 14, 15);
    }
  }
  // The rest (under C elements): its exp in the same lanes, whole groups of 8 into the
  // partials, the last few into partial 0.
  map_lanes<W>(row + j, row + j, valid - j, [m](typename Lanes<W>::f32& x, std::int64_t) {
    x -= m;
    exp_lanes<W>(x);
  });
  for (; j + 8 <= valid; j += 8) {
    V8 y;
    std::memcpy(&y, row + j, sizeof y);
    acc += y;
  }
  for (; j < valid; ++j) acc[0] += row[j];
  const float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  const float inv = 1.0f / sum;
  for (j = 0; j < valid; ++j) row[j] *= inv;
  for (j = valid; j < n; ++j) row[j] = 0.0f;
}

// One copy of each kernel per width: the generic build's (4 lanes), AVX2's (8), AVX-512's (16).
struct RowKernels {
  void (*rms_norm)(const float*, const float*, float, std::int64_t, float*);
  void (*swiglu)(const float*, const float*, std::int64_t, float*);
  void (*masked_softmax)(float*, std::int64_t, std::int64_t);
};
inline void rms_norm_x4(const float* x, const float* w, float eps, std::int64_t n, float* y) { rms_norm_lanes<4>(x, w, eps, n, y); }
inline void swiglu_x4(const float* g, const float* u, std::int64_t n, float* o) { swiglu_lanes<4>(g, u, n, o); }
inline void masked_softmax_x4(float* row, std::int64_t valid, std::int64_t n) { masked_softmax_lanes<4>(row, valid, n); }
#if DROIDSPEAK_HAVE_X86_DISPATCH
DROIDSPEAK_TARGET_AVX2 inline void rms_norm_x8(const float* x, const float* w, float eps, std::int64_t n, float* y) {
  rms_norm_lanes<8>(x, w, eps, n, y);
}
DROIDSPEAK_TARGET_AVX2 inline void swiglu_x8(const float* g, const float* u, std::int64_t n, float* o) { swiglu_lanes<8>(g, u, n, o); }
DROIDSPEAK_TARGET_AVX2 inline void masked_softmax_x8(float* row, std::int64_t valid, std::int64_t n) {
  masked_softmax_lanes<8>(row, valid, n);
}
DROIDSPEAK_TARGET_AVX512 inline void rms_norm_x16(const float* x, const float* w, float eps, std::int64_t n, float* y) {
  rms_norm_lanes<16>(x, w, eps, n, y);
}
DROIDSPEAK_TARGET_AVX512 inline void swiglu_x16(const float* g, const float* u, std::int64_t n, float* o) {
  swiglu_lanes<16>(g, u, n, o);
}
DROIDSPEAK_TARGET_AVX512 inline void masked_softmax_x16(float* row, std::int64_t valid, std::int64_t n) {
  masked_softmax_lanes<16>(row, valid, n);
}
#endif
}  // namespace detail

//! The row kernels compiled for `level`, lowered to what this CPU runs (runnable_simd_level).
//! Every level computes the same bits (a NaN result is NaN at every level, its sign and
//! payload may differ: see core/simd_level.hpp); only the speed differs. The engine looks
//! them up once.
inline detail::RowKernels row_kernels(SimdLevel level = cpu_simd_level()) {
#if DROIDSPEAK_HAVE_X86_DISPATCH
  switch (runnable_simd_level(level)) {
    case SimdLevel::kAvx512: return {detail::rms_norm_x16, detail::swiglu_x16, detail::masked_softmax_x16};
    case SimdLevel::kAvx2: return {detail::rms_norm_x8, detail::swiglu_x8, detail::masked_softmax_x8};
    case SimdLevel::kGeneric: break;
  }
#else
  (void)level;
#endif
  return {detail::rms_norm_x4, detail::swiglu_x4, detail::masked_softmax_x4};
}

//! HF LlamaRMSNorm of one row: y = w * (x * rsqrt(mean(x^2) + eps)), f32 (the sum of squares
//! is accumulated in double, in index order). `x` and `y` may alias. Runs at the widest
//! vector width of this CPU; `level` picks another (same bits, see row_kernels).
//! @param x [n]  @param w [n]  @param y [n]
inline void rms_norm(const float* x, const float* w, float eps, std::int64_t n, float* y,
                     SimdLevel level = cpu_simd_level()) {
  row_kernels(level).rms_norm(x, w, eps, n, y);
}

//! SwiGLU: out_i = silu(gate_i) * up_i with silu(g) = g / (1 + exp(-g)) (exp as exp_f32x4).
//! `level` as for rms_norm.
//! @param gate, up, out [n]; `out` may alias `gate` (not `up` unless equal to it).
inline void swiglu(const float* gate, const float* up, std::int64_t n, float* out, SimdLevel level = cpu_simd_level()) {
  row_kernels(level).swiglu(gate, up, n, out);
}

//! Softmax of the first `valid` (>= 1) entries of a row in place; entries [valid, n) become 0
//! (the causal mask). Max-subtracted (exp as exp_f32x4); max and sum over 8 interleaved
//! partials combined in a fixed order, so the result does not depend on vectorisation.
//! `level` as for rms_norm.
//! @param row [n]
inline void masked_softmax(float* row, std::int64_t valid, std::int64_t n, SimdLevel level = cpu_simd_level()) {
  row_kernels(level).masked_softmax(row, valid, n);
}

//! C[m][n] = alpha * A[m][k] . B[n][k]^T + beta * C (row-major; B is an nn.Linear weight).
inline void gemm_nt(std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
                    std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                    std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta,
              c, static_cast<int>(ldc));
}

//! C[m][n] = alpha * A[m][k] . B[k][n] + beta * C (row-major).
inline void gemm_nn(std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
                    std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                    std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::reference
