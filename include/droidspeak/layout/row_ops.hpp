// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Element-wise row operations shared by the host primitives and the CUDA kernels:
//! the arithmetic that must agree bit for bit on both sides lives here and only here.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dtype.hpp"

#include <cstdint>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! Per-row quantisation scale: absmax / qmax, and its reciprocal qmax / absmax (0 for an
//! all-zero row, so it quantises to zeros). Both sides multiply by the reciprocal.
struct RowScale {
  float scale;
  float inv_scale;
};

DROIDSPEAK_HOST_DEVICE RowScale row_scale(float absmax, float qmax) {
  if (!(absmax > 0.0f)) return {0.0f, 0.0f};
  return {absmax / qmax, qmax / absmax};
}

//! |x| as the quantiser sees it: NaN counts as 0 so one NaN does not poison its row's scale.
DROIDSPEAK_HOST_DEVICE float abs_for_scale(float x) {
  const float a = x < 0.0f ? -x : x;
  return a == a ? a : 0.0f;
}

//! Quantised value of x in row with reciprocal scale `inv`.
template <class Q>
DROIDSPEAK_HOST_DEVICE Q quantize_value(float x, float inv) {
  return from_float<Q>(x * inv);
}

//! Dequantised value of q in a row with scale `scale`, rounded into Dst.
template <class Dst, class Q>
DROIDSPEAK_HOST_DEVICE Dst dequantize_value(Q q, float scale) {
  return from_float<Dst>(to_float(q) * scale);
}

//! Converts `n` elements from Src to Dst through f32 (exact for every source type).
//! `src` [n], `dst` [n], not overlapping.
template <class Src, class Dst>
DROIDSPEAK_HOST_DEVICE void convert_row(const Src* src, Dst* dst, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) dst[i] = from_float<Dst>(to_float(src[i]));
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
