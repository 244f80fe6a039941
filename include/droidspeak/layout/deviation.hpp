// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Per-layer deviation between two KV caches (any layouts, any dtypes).
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dispatch.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/operations.hpp"

#include <cmath>
#include <cstdint>
#include <span>
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! Sums over the compared elements of a (reference) and b.
struct DeviationStats {
  double sum_sq_diff = 0.0;  //!< sum (a - b)^2
  double sum_sq_a = 0.0;     //!< sum a^2
  double sum_sq_b = 0.0;     //!< sum b^2
  double dot = 0.0;          //!< sum a * b
  double max_abs = 0.0;      //!< max |a - b|
  std::int64_t count = 0;    //!< elements compared

  //! ||a - b|| / ||a||; 0 when both are zero, infinity when only a is.
  double relative_l2() const {
    if (sum_sq_a == 0.0) return sum_sq_diff == 0.0 ? 0.0 : INFINITY;
    return std::sqrt(sum_sq_diff / sum_sq_a);
  }
  //! a.b / (||a|| ||b||); 1 when both are zero, 0 when only one is.
  double cosine() const {
    if (sum_sq_a == 0.0 || sum_sq_b == 0.0) return (sum_sq_a == 0.0 && sum_sq_b == 0.0) ? 1.0 : 0.0;
    return dot / std::sqrt(sum_sq_a * sum_sq_b);
  }
  //! sqrt(sum (a-b)^2 / count); 0 for no elements.
  double rms_diff() const { return count == 0 ? 0.0 : std::sqrt(sum_sq_diff / count); }

  //! The statistics of the union of two disjoint element sets.
  DeviationStats merged(const DeviationStats& o) const {
    return {sum_sq_diff + o.sum_sq_diff, sum_sq_a + o.sum_sq_a, sum_sq_b + o.sum_sq_b,
            dot + o.dot,                 max_abs > o.max_abs ? max_abs : o.max_abs,
            count + o.count};
  }
};

//! Deviation of one layer, K and V apart.
struct KvDeviation {
  DeviationStats k;
  DeviationStats v;
  DeviationStats both() const { return k.merged(v); }
};

//! Fills `out[layer]` for every selected layer (others untouched), accumulating in double
//! in a fixed order (token, head, element), so the result is the same on every run.
//! @param a   host views; a is the reference of relative_l2.
//! @param out [>= a.layers.end_bound()] one entry per layer index.
inline Status kv_deviation(const KvDeviationArgs& a, std::span<KvDeviation> out) {
  DROIDSPEAK_TRY(can_implement(a, IndexMemory::kHost));
  if (static_cast<std::int64_t>(out.size()) < a.layers.end_bound()) {
    return Status::invalid_argument("kv_deviation: out has " + std::to_string(out.size()) +
                                    " entries, layer " + std::to_string(a.layers.end_bound() - 1) +
                                    " selected");
  }
  const std::int64_t heads = a.a.layout.num_kv_heads();
  const std::int64_t dim = a.a.layout.head_dim();
  return dispatch_dtype(a.a.dtype, [&](auto a_tag) {
    return dispatch_dtype(a.b.dtype, [&](auto b_tag) {
      using A = typename decltype(a_tag)::type;
      using B = typename decltype(b_tag)::type;
      for (std::int64_t i = 0; i < a.layers.count(); ++i) {
        const std::int64_t layer = a.layers.nth(i);
        KvDeviation result;
        for (KvPart part : {KvPart::kK, KvPart::kV}) {
          DeviationStats st;
          for (std::int64_t t = a.tokens.begin; t < a.tokens.end; ++t) {
            for (std::int64_t h = 0; h < heads; ++h) {
              const auto* ra = reinterpret_cast<const A*>(a.a.row(layer, part, t, h));
              const auto* rb = reinterpret_cast<const B*>(a.b.row(layer, part, t, h));
              for (std::int64_t e = 0; e < dim; ++e) {
                const double x = to_float(ra[e]);
                const double y = to_float(rb[e]);
                const double d = x - y;
                st.sum_sq_diff += d * d;
                st.sum_sq_a += x * x;
                st.sum_sq_b += y * y;
                st.dot += x * y;
                const double ad = std::fabs(d);
                if (ad > st.max_abs || ad != ad) st.max_abs = ad;
              }
            }
          }
          st.count = a.tokens.size() * heads * dim;
          (part == KvPart::kK ? result.k : result.v) = st;
        }
        out[static_cast<std::size_t>(layer)] = result;
      }
      return Status::ok();
    });
  });
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
