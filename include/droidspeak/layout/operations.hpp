// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Argument structs of the data-movement primitives and their validation
//! (`can_implement`), shared by the host primitives and the CUDA launchers.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/layer_set.hpp"
#include "droidspeak/layout/token_range.hpp"
#include "droidspeak/layout/view.hpp"

#include <cstdint>
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! Where the index arrays (block tables, CSR lists) of the views live. Host validation
//! reads them; device validation cannot without a synchronisation, so kernels check each
//! page index as they go and skip rows whose page is outside the pool.
enum class IndexMemory : std::uint8_t { kHost, kDevice };

//! Copy K and V rows of `layers` for source tokens `src_tokens` into destination tokens
//! starting at `dst_token_begin`, converting dtype. Any layout pair: a gather when `src`
//! is paged, a scatter when `dst` is. src and dst must not overlap.
struct KvCopyArgs {
  ConstKvView src;
  KvView dst;
  LayerSet layers;
  TokenRange src_tokens;
  std::int64_t dst_token_begin = 0;
};

//! Quantise a float KV cache (f32/f16/bf16) into fp8 e4m3 or int8 with one scale per
//! (layer, K|V, token, kv_head). `scales` [dst layers][2][dst tokens][num_kv_heads] f32 is
//! written at the destination tokens.
struct KvQuantizeArgs {
  ConstKvView src;
  KvView dst;
  float* scales = nullptr;
  LayerSet layers;
  TokenRange src_tokens;
  std::int64_t dst_token_begin = 0;
};

//! The inverse: `scales` [src layers][2][src tokens][num_kv_heads] f32, read at the source
//! tokens; dst is f32, f16 or bf16.
struct KvDequantizeArgs {
  ConstKvView src;
  const float* scales = nullptr;
  KvView dst;
  LayerSet layers;
  TokenRange src_tokens;
  std::int64_t dst_token_begin = 0;
};

//! Compare two caches (any layouts and dtypes, same heads and head_dim) over the same
//! token positions.
struct KvDeviationArgs {
  ConstKvView a;
  ConstKvView b;
  LayerSet layers;
  TokenRange tokens;
};

//! Copy E-cache rows of `layers` (entries of both caches), converting dtype.
struct ECopyArgs {
  ConstEView src;
  EView dst;
  LayerSet layers;
  TokenRange src_tokens;
  std::int64_t dst_token_begin = 0;
};

//! Index of the scale of (layer, part, token, head) in a scale array of a cache with
//! `num_tokens` tokens and `num_kv_heads` heads.
DROIDSPEAK_HOST_DEVICE constexpr std::int64_t scale_index(std::int64_t layer, KvPart part,
                                                          std::int64_t token, std::int64_t head,
                                                          std::int64_t num_tokens,
                                                          std::int64_t num_kv_heads) {
  return ((layer * 2 + static_cast<std::int64_t>(part)) * num_tokens + token) * num_kv_heads + head;
}

namespace detail {

inline bool bytes_overlap(const void* a, std::int64_t a_bytes, const void* b, std::int64_t b_bytes) {
  if (a_bytes <= 0 || b_bytes <= 0) return false;
  const auto pa = reinterpret_cast<std::uintptr_t>(a);
  const auto pb = reinterpret_cast<std::uintptr_t>(b);
  return pa < pb + static_cast<std::uintptr_t>(b_bytes) && pb < pa + static_cast<std::uintptr_t>(a_bytes);
}

inline bool views_overlap(const ConstKvView& src, const KvView& dst) {
  const std::int64_t sb = src.pool_bytes();
  const std::int64_t db = dst.pool_bytes();
  const void* s[2] = {src.k_data, src.v_data};
  const void* d[2] = {dst.k_data, dst.v_data};
  for (const void* x : s) {
    for (const void* y : d) {
      if (bytes_overlap(x, sb, y, db)) return true;
    }
  }
  return false;
}

// Shared checks of a (src, dst, layers, tokens) transfer between two KV views.
inline Status check_transfer(const ConstKvView& src, const KvView& dst, const LayerSet& layers,
                             const TokenRange& src_tokens, std::int64_t dst_token_begin,
                             IndexMemory where, const char* op) {
  const bool host = where == IndexMemory::kHost;
  const std::string o(op);
  DROIDSPEAK_TRY(validate_view(src, (o + ": src").c_str(), host));
  DROIDSPEAK_TRY(validate_view(dst, (o + ": dst").c_str(), host));
  if (src.layout.num_kv_heads() != dst.layout.num_kv_heads() ||
      src.layout.head_dim() != dst.layout.head_dim()) {
    return Status::invalid_argument(
        o + ": src has " + std::to_string(src.layout.num_kv_heads()) + " kv heads of head_dim " +
        std::to_string(src.layout.head_dim()) + " but dst has " +
        std::to_string(dst.layout.num_kv_heads()) + " of head_dim " +
        std::to_string(dst.layout.head_dim()));
  }
  const std::int64_t layer_end = layers.end_bound();
  if (layer_end > src.layout.num_layers() || layer_end > dst.layout.num_layers()) {
    return Status::out_of_range(o + ": layer " + std::to_string(layer_end - 1) +
                                " selected but src has " + std::to_string(src.layout.num_layers()) +
                                " and dst " + std::to_string(dst.layout.num_layers()) + " layers");
  }
  if (src_tokens.begin < 0 || src_tokens.end < src_tokens.begin ||
      src_tokens.end > src.layout.num_tokens()) {
    return Status::out_of_range(o + ": source tokens " + src_tokens.to_string() +
                                " outside the source's " + std::to_string(src.layout.num_tokens()) +
                                " tokens");
  }
  if (dst_token_begin < 0 || dst_token_begin > dst.layout.num_tokens() - src_tokens.size()) {
    return Status::out_of_range(o + ": " + std::to_string(src_tokens.size()) +
                                " tokens written from position " + std::to_string(dst_token_begin) +
                                " exceed the destination's " +
                                std::to_string(dst.layout.num_tokens()) + " tokens");
  }
  if (views_overlap(src, dst)) {
    return Status::invalid_argument(o + ": src and dst buffers overlap");
  }
  return Status::ok();
}

inline bool is_float_dtype(DType d) {
  return d == DType::kF32 || d == DType::kF16 || d == DType::kBF16;
}
inline bool is_quantized_dtype(DType d) { return d == DType::kFP8E4M3 || d == DType::kI8; }

}  // namespace detail

//! Which layout pairs a KV copy accepts: any (copy_kv), paged -> transfer (gather_kv) or
//! transfer -> paged (scatter_kv). The host primitives and the CUDA launchers share it.
enum class CopyDirection : std::uint8_t { kAny, kGather, kScatter };

//! Checks a copy before it runs: the layout kinds `direction` asks for, valid views,
//! matching heads and head_dim, layers and tokens inside both caches, no overlap. With
//! IndexMemory::kHost also the index arrays. Messages name the operation (copy_kv,
//! gather_kv or scatter_kv).
inline Status can_implement(const KvCopyArgs& a, IndexMemory where,
                            CopyDirection direction = CopyDirection::kAny) {
  const bool src_paged = a.src.layout.kind != LayoutKind::kTransfer;
  const bool dst_paged = a.dst.layout.kind != LayoutKind::kTransfer;
  if (direction == CopyDirection::kGather && (!src_paged || dst_paged)) {
    return Status::invalid_argument("gather_kv: expects a paged src and a transfer-layout dst, got " +
                                    a.src.layout.describe() + " -> " + a.dst.layout.describe());
  }
  if (direction == CopyDirection::kScatter && (src_paged || !dst_paged)) {
    return Status::invalid_argument("scatter_kv: expects a transfer-layout src and a paged dst, got " +
                                    a.src.layout.describe() + " -> " + a.dst.layout.describe());
  }
  const char* op = direction == CopyDirection::kGather    ? "gather_kv"
                   : direction == CopyDirection::kScatter ? "scatter_kv"
                                                          : "copy_kv";
  return detail::check_transfer(a.src, a.dst, a.layers, a.src_tokens, a.dst_token_begin, where, op);
}

//! As for a copy, plus: src is f32/f16/bf16, dst is fp8_e4m3/int8, scales non-null.
inline Status can_implement(const KvQuantizeArgs& a, IndexMemory where) {
  DROIDSPEAK_TRY(detail::check_transfer(a.src, a.dst, a.layers, a.src_tokens, a.dst_token_begin,
                                        where, "quantize_kv"));
  if (!detail::is_float_dtype(a.src.dtype)) {
    return Status::invalid_argument("quantize_kv: src dtype " + std::string(to_string(a.src.dtype)) +
                                    " is not f32, f16 or bf16");
  }
  if (!detail::is_quantized_dtype(a.dst.dtype)) {
    return Status::invalid_argument("quantize_kv: dst dtype " + std::string(to_string(a.dst.dtype)) +
                                    " is not fp8_e4m3 or int8");
  }
  if (a.scales == nullptr) return Status::invalid_argument("quantize_kv: scales is null");
  return Status::ok();
}

//! As for a copy, plus: src is fp8_e4m3/int8, dst is f32/f16/bf16, scales non-null.
inline Status can_implement(const KvDequantizeArgs& a, IndexMemory where) {
  DROIDSPEAK_TRY(detail::check_transfer(a.src, a.dst, a.layers, a.src_tokens, a.dst_token_begin,
                                        where, "dequantize_kv"));
  if (!detail::is_quantized_dtype(a.src.dtype)) {
    return Status::invalid_argument("dequantize_kv: src dtype " +
                                    std::string(to_string(a.src.dtype)) +
                                    " is not fp8_e4m3 or int8");
  }
  if (!detail::is_float_dtype(a.dst.dtype)) {
    return Status::invalid_argument("dequantize_kv: dst dtype " +
                                    std::string(to_string(a.dst.dtype)) + " is not f32, f16 or bf16");
  }
  if (a.scales == nullptr) return Status::invalid_argument("dequantize_kv: scales is null");
  return Status::ok();
}

//! Both views valid, same heads and head_dim, layers and tokens inside both.
inline Status can_implement(const KvDeviationArgs& a, IndexMemory where) {
  const bool host = where == IndexMemory::kHost;
  DROIDSPEAK_TRY(validate_view(a.a, "kv_deviation: a", host));
  DROIDSPEAK_TRY(validate_view(a.b, "kv_deviation: b", host));
  if (a.a.layout.num_kv_heads() != a.b.layout.num_kv_heads() ||
      a.a.layout.head_dim() != a.b.layout.head_dim()) {
    return Status::invalid_argument("kv_deviation: a and b differ in kv heads or head_dim");
  }
  const std::int64_t layer_end = a.layers.end_bound();
  if (layer_end > a.a.layout.num_layers() || layer_end > a.b.layout.num_layers()) {
    return Status::out_of_range("kv_deviation: layer " + std::to_string(layer_end - 1) +
                                " selected but a has " + std::to_string(a.a.layout.num_layers()) +
                                " and b " + std::to_string(a.b.layout.num_layers()) + " layers");
  }
  if (a.tokens.begin < 0 || a.tokens.end < a.tokens.begin ||
      a.tokens.end > a.a.layout.num_tokens() || a.tokens.end > a.b.layout.num_tokens()) {
    return Status::out_of_range("kv_deviation: tokens " + a.tokens.to_string() +
                                " outside a (" + std::to_string(a.a.layout.num_tokens()) +
                                ") or b (" + std::to_string(a.b.layout.num_tokens()) + ")");
  }
  return Status::ok();
}

//! Valid layouts and dtypes, every selected layer an entry of both, tokens in range, same
//! hidden size, no overlap.
inline Status can_implement(const ECopyArgs& a) {
  if (!is_valid(a.src.dtype) || !is_valid(a.dst.dtype)) {
    return Status::invalid_argument("copy_e: unknown dtype");
  }
  DROIDSPEAK_TRY(a.src.layout.validate().with_context("copy_e: src"));
  DROIDSPEAK_TRY(a.dst.layout.validate().with_context("copy_e: dst"));
  if (a.src.layout.hidden_size != a.dst.layout.hidden_size) {
    return Status::invalid_argument("copy_e: hidden size " + std::to_string(a.src.layout.hidden_size) +
                                    " vs " + std::to_string(a.dst.layout.hidden_size));
  }
  if (a.layers.minus(a.src.layout.entry_layers).count() != 0 ||
      a.layers.minus(a.dst.layout.entry_layers).count() != 0) {
    return Status::invalid_argument("copy_e: layers " + a.layers.to_string() +
                                    " are not all entries of src " +
                                    a.src.layout.entry_layers.to_string() + " and dst " +
                                    a.dst.layout.entry_layers.to_string());
  }
  if (a.src_tokens.begin < 0 || a.src_tokens.end < a.src_tokens.begin ||
      a.src_tokens.end > a.src.layout.num_tokens || a.dst_token_begin < 0 ||
      a.dst_token_begin > a.dst.layout.num_tokens - a.src_tokens.size()) {
    return Status::out_of_range("copy_e: tokens " + a.src_tokens.to_string() + " -> from " +
                                std::to_string(a.dst_token_begin) + " outside src (" +
                                std::to_string(a.src.layout.num_tokens) + ") or dst (" +
                                std::to_string(a.dst.layout.num_tokens) + ")");
  }
  if ((a.src.layout.pool_elements() > 0 && a.src.data == nullptr) ||
      (a.dst.layout.pool_elements() > 0 && a.dst.data == nullptr)) {
    return Status::invalid_argument("copy_e: data pointer is null");
  }
  if (detail::bytes_overlap(a.src.data, a.src.bytes(), a.dst.data, a.dst.bytes())) {
    return Status::invalid_argument("copy_e: src and dst buffers overlap");
  }
  return Status::ok();
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
