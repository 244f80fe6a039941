// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Finding non-finite values (NaN, +-inf) where they enter: a KV cache or E cache
//! received from a sender, a weight tensor read from a checkpoint. Host memory, any layout,
//! any dtype. One NaN anywhere in a cache turns into wrong attention downstream, so the
//! receiver checks what it is handed before it computes with it, and reports where it is.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dispatch.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/head_order.hpp"  // KvPart
#include "droidspeak/layout/layer_set.hpp"
#include "droidspeak/layout/operations.hpp"  // scale_index
#include "droidspeak/layout/token_range.hpp"
#include "droidspeak/layout/view.hpp"

#include <cstdint>
#include <cstring>  // std::memcpy
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! True when `x` is neither NaN nor infinite. Tested on the bits (an all-ones exponent), so
//! it costs no conversion:
//! - f32, f16, bf16: IEEE, all-ones exponent = inf or NaN;
//! - fp8 e4m3: no infinity; S.1111.111 is NaN (448 = S.1111.110 is finite);
//! - int8: every value is finite (a quantised cache's scales are checked separately).
DROIDSPEAK_HOST_DEVICE bool is_finite_value(float x) {
  return (droidspeak::detail::float_bits(x) & 0x7F800000u) != 0x7F800000u;
}
DROIDSPEAK_HOST_DEVICE constexpr bool is_finite_value(Half x) { return (x.bits & 0x7C00u) != 0x7C00u; }
DROIDSPEAK_HOST_DEVICE constexpr bool is_finite_value(BFloat16 x) {
  return (x.bits & 0x7F80u) != 0x7F80u;
}
DROIDSPEAK_HOST_DEVICE constexpr bool is_finite_value(Fp8E4M3 x) { return (x.bits & 0x7Fu) != 0x7Fu; }
DROIDSPEAK_HOST_DEVICE constexpr bool is_finite_value(std::int8_t) { return true; }

//! Index of the first non-finite element of `n` elements of `dtype` at `data` (any
//! alignment), or -1 when all are finite. `data` [n * dtype_size(dtype)] bytes.
//! @return the index, or kErrorInvalidArgument for an unknown dtype or n < 0.
inline Result<std::int64_t> first_non_finite(const std::byte* data, DType dtype, std::int64_t n) {
  if (n < 0) return Status::invalid_argument("first_non_finite: negative count " + std::to_string(n));
  std::int64_t found = -1;
  DROIDSPEAK_TRY(dispatch_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (std::int64_t i = 0; i < n; ++i) {
      T x;
      std::memcpy(&x, data + i * static_cast<std::int64_t>(sizeof(T)), sizeof(T));
      if (!is_finite_value(x)) {
        found = i;
        break;
      }
    }
    return Status::ok();
  }));
  return found;
}

//! Where a non-finite value sits in a KV cache. `found == false`: none in the searched part.
struct KvNonFinite {
  bool found = false;
  std::int64_t layer = -1;
  KvPart part = KvPart::kK;
  std::int64_t token = -1;
  std::int64_t head = -1;
  std::int64_t element = -1;  //!< within the head's row; -1 when the row's scale is the culprit

  //! "layer 3 V token 17 head 1 element 5" (or "... scale"); "none" when not found.
  std::string to_string() const {
    if (!found) return "none";
    std::string s = "layer " + std::to_string(layer) + (part == KvPart::kK ? " K" : " V") +
                    " token " + std::to_string(token) + " head " + std::to_string(head);
    return s + (element < 0 ? " scale" : " element " + std::to_string(element));
  }
};

//! Finds the first non-finite value among the K and V rows of `layers` x `tokens` of a host
//! cache, searching layer by layer (ascending), K before V, then token, head, element.
//! Quantised caches (fp8 e4m3, int8): the elements follow is_finite_value, and when `scales`
//! is not null each row's scale is checked before its elements (a NaN or infinite scale
//! makes the whole row non-finite when dequantised).
//! @param v       a host view; paged layouts read their index arrays on the host.
//! @param scales  null, or for a quantised view the scale array of quantize_kv:
//!                [v.layout.num_layers()][2][v.layout.num_tokens()][num_kv_heads] f32.
//! @return the location (found == false when all are finite), or kErrorInvalidArgument /
//!   kErrorOutOfRange for an invalid view, layers past the cache, or tokens outside it.
inline Result<KvNonFinite> find_non_finite_kv(const ConstKvView& v, const LayerSet& layers,
                                              TokenRange tokens, const float* scales = nullptr) {
  DROIDSPEAK_TRY(validate_view(v, "find_non_finite_kv", /*host_indices=*/true));
  if (layers.end_bound() > v.layout.num_layers()) {
    return Status::out_of_range("find_non_finite_kv: layer " + std::to_string(layers.end_bound() - 1) +
                                " selected but the cache has " +
                                std::to_string(v.layout.num_layers()) + " layers");
  }
  if (tokens.begin < 0 || tokens.end < tokens.begin || tokens.end > v.layout.num_tokens()) {
    return Status::out_of_range("find_non_finite_kv: tokens " + tokens.to_string() +
                                " outside the cache's " + std::to_string(v.layout.num_tokens()));
  }
  const bool quantized = v.dtype == DType::kFP8E4M3 || v.dtype == DType::kI8;
  const std::int64_t heads = v.layout.num_kv_heads();
  const std::int64_t dim = v.layout.head_dim();
  for (std::int64_t i = 0; i < layers.count(); ++i) {
    const std::int64_t layer = layers.nth(i);
    for (KvPart part : {KvPart::kK, KvPart::kV}) {
      for (std::int64_t t = tokens.begin; t < tokens.end; ++t) {
        for (std::int64_t h = 0; h < heads; ++h) {
          KvNonFinite at{true, layer, part, t, h, -1};
          if (quantized && scales != nullptr &&
              !is_finite_value(scales[scale_index(layer, part, t, h, v.layout.num_tokens(), heads)])) {
            return at;
          }
          const std::byte* row = v.row(layer, part, t, h);
          if (row == nullptr) {
            return Status::out_of_range("find_non_finite_kv: layer " + std::to_string(layer) +
                                        " token " + std::to_string(t) +
                                        " lies on a page outside the pool");
          }
          Result<std::int64_t> e = first_non_finite(row, v.dtype, dim);
          if (!e) return e.status();
          if (*e >= 0) {
            at.element = *e;
            return at;
          }
        }
      }
    }
  }
  return KvNonFinite{};
}

//! Where a non-finite value sits in an E cache. `found == false`: none in the searched part.
struct ENonFinite {
  bool found = false;
  std::int64_t layer = -1;  //!< the entry layer (a model layer index, not the entry's rank)
  std::int64_t token = -1;
  std::int64_t element = -1;  //!< within the hidden-size row

  //! "layer 6 token 3 element 17"; "none" when not found.
  std::string to_string() const {
    if (!found) return "none";
    return "layer " + std::to_string(layer) + " token " + std::to_string(token) + " element " +
           std::to_string(element);
  }
};

//! Finds the first non-finite value among the rows of `layers` x `tokens` of a host E cache,
//! layer by layer (ascending), then token, element.
//! @param layers  entries of v.layout.entry_layers.
//! @return the location, or kErrorInvalidArgument for an invalid view or a layer that is
//!   not an entry, kErrorOutOfRange for tokens outside the cache.
inline Result<ENonFinite> find_non_finite_e(const ConstEView& v, const LayerSet& layers,
                                            TokenRange tokens) {
  if (!is_valid(v.dtype)) return Status::invalid_argument("find_non_finite_e: unknown dtype");
  DROIDSPEAK_TRY(v.layout.validate().with_context("find_non_finite_e"));
  if (layers.minus(v.layout.entry_layers).count() != 0) {
    return Status::invalid_argument("find_non_finite_e: layers " + layers.to_string() +
                                    " are not all entries of " +
                                    v.layout.entry_layers.to_string());
  }
  if (tokens.begin < 0 || tokens.end < tokens.begin || tokens.end > v.layout.num_tokens) {
    return Status::out_of_range("find_non_finite_e: tokens " + tokens.to_string() +
                                " outside the cache's " + std::to_string(v.layout.num_tokens));
  }
  if (v.layout.pool_elements() > 0 && v.data == nullptr) {
    return Status::invalid_argument("find_non_finite_e: data pointer is null");
  }
  for (std::int64_t i = 0; i < layers.count(); ++i) {
    const std::int64_t layer = layers.nth(i);
    for (std::int64_t t = tokens.begin; t < tokens.end; ++t) {
      Result<std::int64_t> e = first_non_finite(v.row(layer, t), v.dtype, v.layout.hidden_size);
      if (!e) return e.status();
      if (*e >= 0) return ENonFinite{true, layer, t, *e};
    }
  }
  return ENonFinite{};
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
