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

namespace detail {
//! The non-finite values of T read on its bits: those with all of `mask` set, read as the
//! unsigned `Bits` of T's width (see is_finite_value); mask 0 for a type without any.
template <class T> struct NonFiniteBits;
template <> struct NonFiniteBits<float> { using Bits = std::uint32_t; static constexpr Bits mask = 0x7F800000u; };
template <> struct NonFiniteBits<Half> { using Bits = std::uint16_t; static constexpr Bits mask = 0x7C00u; };
template <> struct NonFiniteBits<BFloat16> { using Bits = std::uint16_t; static constexpr Bits mask = 0x7F80u; };
template <> struct NonFiniteBits<Fp8E4M3> { using Bits = std::uint8_t; static constexpr Bits mask = 0x7Fu; };
template <> struct NonFiniteBits<std::int8_t> { using Bits = std::uint8_t; static constexpr Bits mask = 0; };
}  // namespace detail

//! True when `x` is neither NaN nor infinite. Tested on the bits (all of
//! detail::NonFiniteBits<T>::mask set), so it costs no conversion:
//! - f32, f16, bf16: IEEE, all-ones exponent = inf or NaN;
//! - fp8 e4m3: no infinity; S.1111.111 is NaN (448 = S.1111.110 is finite);
//! - int8: every value is finite (a quantised cache's scales are checked separately).
DROIDSPEAK_HOST_DEVICE bool is_finite_value(float x) {
  constexpr auto kMask = detail::NonFiniteBits<float>::mask;
  return (droidspeak::detail::float_bits(x) & kMask) != kMask;
}
DROIDSPEAK_HOST_DEVICE constexpr bool is_finite_value(Half x) {
  constexpr auto kMask = detail::NonFiniteBits<Half>::mask;
  return (x.bits & kMask) != kMask;
}
DROIDSPEAK_HOST_DEVICE constexpr bool is_finite_value(BFloat16 x) {
  constexpr auto kMask = detail::NonFiniteBits<BFloat16>::mask;
  return (x.bits & kMask) != kMask;
}
DROIDSPEAK_HOST_DEVICE constexpr bool is_finite_value(Fp8E4M3 x) {
  constexpr auto kMask = detail::NonFiniteBits<Fp8E4M3>::mask;
  return (x.bits & kMask) != kMask;
}
DROIDSPEAK_HOST_DEVICE constexpr bool is_finite_value(std::int8_t) { return true; }

namespace detail {
//! first_non_finite for one type. A received cache is checked in full before it is used,
//! on the adoption's critical path, so the scan goes block by block without a branch per
//! element (the compiler vectorises the block: about 4x the rate of an element-by-element
//! scan, bench/RESULTS.md), and looks for the element only in the block that holds one.
template <class T>
std::int64_t first_non_finite_of(const std::byte* data, std::int64_t n) {
  using Bits = typename NonFiniteBits<T>::Bits;
  constexpr Bits kMask = NonFiniteBits<T>::mask;
  static_assert(sizeof(Bits) == sizeof(T));
  if constexpr (kMask == 0) {
    return -1;
  } else {
    // 32 elements: a whole vector loop for rows of head_dim 32 and up (a fixed trip count,
    // so GCC vectorises it at -O2 too), and runs of rows go through it block after block.
    constexpr std::int64_t kBlock = 32;
    std::int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock) {
      const std::byte* block = data + i * static_cast<std::int64_t>(sizeof(T));
      unsigned hit = 0;
      for (std::int64_t j = 0; j < kBlock; ++j) {
        Bits b;
        std::memcpy(&b, block + j * static_cast<std::int64_t>(sizeof(T)), sizeof b);
        hit |= static_cast<unsigned>((b & kMask) == kMask);
      }
      if (hit != 0) break;  // the element is found below, within this block
    }
    for (; i < n; ++i) {
      Bits b;
      std::memcpy(&b, data + i * static_cast<std::int64_t>(sizeof(T)), sizeof b);
      if ((b & kMask) == kMask) return i;
    }
    return -1;
  }
}
}  // namespace detail

//! Index of the first non-finite element (is_finite_value false) of `n` elements of `dtype`
//! at `data` (any alignment), or -1 when all are finite. `data` [n * dtype_size(dtype)] bytes.
//! @return the index, or kErrorInvalidArgument for an unknown dtype or n < 0.
inline Result<std::int64_t> first_non_finite(const std::byte* data, DType dtype, std::int64_t n) {
  if (n < 0) return Status::invalid_argument("first_non_finite: negative count " + std::to_string(n));
  std::int64_t found = -1;
  DROIDSPEAK_TRY(dispatch_dtype(dtype, [&](auto tag) {
    found = detail::first_non_finite_of<typename decltype(tag)::type>(data, n);
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
  KvNonFinite found;
  DROIDSPEAK_TRY(dispatch_dtype(v.dtype, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    constexpr auto kWidth = static_cast<std::int64_t>(sizeof(T));
    for (std::int64_t i = 0; i < layers.count(); ++i) {
      const std::int64_t layer = layers.nth(i);
      for (KvPart part : {KvPart::kK, KvPart::kV}) {
        // Rows that follow one another in memory are scanned as one run (a transfer
        // layout's whole layer part is one), a pass per run rather than a call per row; a
        // run is scanned before anything after it is reported, so the order stays that of
        // the rows.
        const std::byte* run = nullptr;
        std::int64_t run_rows = 0, run_token = 0, run_head = 0;
        auto scan_run = [&]() {
          if (run_rows == 0) return false;
          const std::int64_t e = detail::first_non_finite_of<T>(run, run_rows * dim);
          run_rows = 0;
          if (e < 0) return false;
          const std::int64_t k = run_head + e / dim;
          found = {true, layer, part, run_token + k / heads, k % heads, e % dim};
          return true;
        };
        for (std::int64_t t = tokens.begin; t < tokens.end; ++t) {
          for (std::int64_t h = 0; h < heads; ++h) {
            if (quantized && scales != nullptr &&
                !is_finite_value(scales[scale_index(layer, part, t, h, v.layout.num_tokens(), heads)])) {
              if (!scan_run()) found = {true, layer, part, t, h, -1};
              return Status::ok();
            }
            const std::byte* row = v.row(layer, part, t, h);
            if (row == nullptr) {
              if (scan_run()) return Status::ok();
              return Status::out_of_range("find_non_finite_kv: layer " + std::to_string(layer) +
                                          " token " + std::to_string(t) + " lies on a page outside the pool");
            }
            if (run_rows > 0 && row == run + run_rows * dim * kWidth) {
              ++run_rows;
              continue;
            }
            if (scan_run()) return Status::ok();
            run = row;
            run_rows = 1;
            run_token = t;
            run_head = h;
          }
        }
        if (scan_run()) return Status::ok();
      }
    }
    return Status::ok();
  }));
  return found;
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
  // A layer's rows of consecutive tokens are consecutive in memory: one pass per layer.
  const std::int64_t hidden = v.layout.hidden_size;
  for (std::int64_t i = 0; i < layers.count(); ++i) {
    const std::int64_t layer = layers.nth(i);
    if (tokens.end == tokens.begin) break;
    Result<std::int64_t> e = first_non_finite(v.row(layer, tokens.begin), v.dtype, (tokens.end - tokens.begin) * hidden);
    if (!e) return e.status();
    if (*e >= 0) return ENonFinite{true, layer, tokens.begin + *e / hidden, *e % hidden};
  }
  return ENonFinite{};
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
