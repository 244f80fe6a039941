// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Host quantisation of KV caches to fp8 e4m3 / int8 with one scale per
//! (layer, K|V, token, kv_head), and the inverse.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dispatch.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/operations.hpp"
#include "droidspeak/layout/row_ops.hpp"

#include <cstdint>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

namespace detail {

// Calls f(layer, part, token, head) for every row of `layers` x K|V x `tokens` x heads, in
// that order: the walk quantize_kv and dequantize_kv share.
template <class F>
void for_each_row(const LayerSet& layers, const TokenRange& tokens, std::int64_t heads, F&& f) {
  for (std::int64_t i = 0; i < layers.count(); ++i) {
    const std::int64_t layer = layers.nth(i);
    for (KvPart part : {KvPart::kK, KvPart::kV}) {
      for (std::int64_t t = tokens.begin; t < tokens.end; ++t) {
        for (std::int64_t h = 0; h < heads; ++h) f(layer, part, t, h);
      }
    }
  }
}

}  // namespace detail

//! Quantises each selected row with scale = absmax(row) / qmax (qmax 448 for fp8 e4m3,
//! 127 for int8) and q = round(x * (qmax / absmax)), saturating; an all-zero row gets
//! scale 0 and zeros. NaN elements do not count towards absmax.
//! @param a host views and a host `scales` array; see KvQuantizeArgs.
//! @return can_implement's status; on failure nothing is written. Deterministic.
inline Status quantize_kv(const KvQuantizeArgs& a) {
  DROIDSPEAK_TRY(can_implement(a, IndexMemory::kHost));
  const std::int64_t heads = a.src.layout.num_kv_heads();
  const std::int64_t dim = a.src.layout.head_dim();
  const std::int64_t dst_tokens = a.dst.layout.num_tokens();
  const std::int64_t shift = a.dst_token_begin - a.src_tokens.begin;
  const float qmax = quant_max(a.dst.dtype);
  return dispatch_dtype(a.src.dtype, [&](auto s_tag) {
    return dispatch_dtype(a.dst.dtype, [&](auto q_tag) {
      using Src = typename decltype(s_tag)::type;
      using Q = typename decltype(q_tag)::type;
      if constexpr (sizeof(Q) == 1) {
        detail::for_each_row(a.layers, a.src_tokens, heads, [&](std::int64_t layer, KvPart part,
                                                                 std::int64_t t, std::int64_t h) {
          const auto* s = reinterpret_cast<const Src*>(a.src.row(layer, part, t, h));
          auto* d = reinterpret_cast<Q*>(a.dst.row(layer, part, t + shift, h));
          float absmax = 0.0f;
          for (std::int64_t e = 0; e < dim; ++e) {
            const float v = abs_for_scale(to_float(s[e]));
            absmax = v > absmax ? v : absmax;
          }
          const RowScale rs = row_scale(absmax, qmax);
          for (std::int64_t e = 0; e < dim; ++e) d[e] = quantize_value<Q>(to_float(s[e]), rs.inv_scale);
          a.scales[scale_index(layer, part, t + shift, h, dst_tokens, heads)] = rs.scale;
        });
      }
      return Status::ok();
    });
  });
}

//! x = q * scale, rounded into the destination dtype.
//! @param a host views and a host `scales` array; see KvDequantizeArgs.
inline Status dequantize_kv(const KvDequantizeArgs& a) {
  DROIDSPEAK_TRY(can_implement(a, IndexMemory::kHost));
  const std::int64_t heads = a.src.layout.num_kv_heads();
  const std::int64_t dim = a.src.layout.head_dim();
  const std::int64_t src_tokens = a.src.layout.num_tokens();
  const std::int64_t shift = a.dst_token_begin - a.src_tokens.begin;
  return dispatch_dtype(a.src.dtype, [&](auto q_tag) {
    return dispatch_dtype(a.dst.dtype, [&](auto d_tag) {
      using Q = typename decltype(q_tag)::type;
      using Dst = typename decltype(d_tag)::type;
      if constexpr (sizeof(Q) == 1) {
        detail::for_each_row(a.layers, a.src_tokens, heads, [&](std::int64_t layer, KvPart part,
                                                                 std::int64_t t, std::int64_t h) {
          const auto* s = reinterpret_cast<const Q*>(a.src.row(layer, part, t, h));
          auto* d = reinterpret_cast<Dst*>(a.dst.row(layer, part, t + shift, h));
          const float scale = a.scales[scale_index(layer, part, t, h, src_tokens, heads)];
          for (std::int64_t e = 0; e < dim; ++e) d[e] = dequantize_value<Dst>(s[e], scale);
        });
      }
      return Status::ok();
    });
  });
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
