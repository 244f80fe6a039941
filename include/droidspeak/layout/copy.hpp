// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Host copy / gather / scatter between any two KV views, and E-cache copies.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dispatch.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/operations.hpp"
#include "droidspeak/layout/row_ops.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>  // std::memcpy: same-dtype rows

#if defined(__SSE2__) && !defined(__CUDA_ARCH__)
#include <emmintrin.h>  // _mm_stream_si128, _mm_sfence: non-temporal stores for large copies
#endif

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! Same-dtype copies moving more bytes than this use non-temporal stores (see copy_kv).
inline constexpr std::int64_t kStreamingCopyBytes = std::int64_t{4} << 20;

namespace detail {

// Copies `n` bytes, storing around the caches. For a copy several times the last-level
// cache the destination lines would only be evicted again; streaming stores skip reading
// them first (read-for-ownership), a third of the memory traffic. glibc's memcpy switches
// to the same stores above a similar size, so without this a paged copy made of page-sized
// memcpys would move 1.5x the bytes of the one big memcpy it is compared with.
inline void copy_streaming(std::byte* dst, const std::byte* src, std::size_t n) {
#if defined(__SSE2__) && !defined(__CUDA_ARCH__)
  std::size_t head = (16 - reinterpret_cast<std::uintptr_t>(dst) % 16) % 16;
  head = head < n ? head : n;
  std::memcpy(dst, src, head);
  dst += head;
  src += head;
  n -= head;
  for (; n >= 64; n -= 64, dst += 64, src += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + 48), d);
  }
  std::memcpy(dst, src, n);
#else
  std::memcpy(dst, src, n);
#endif
}

// Orders streaming stores before anything the caller does next.
inline void streaming_fence() {
#if defined(__SSE2__) && !defined(__CUDA_ARCH__)
  _mm_sfence();
#endif
}

using RowFn = void (*)(const std::byte*, std::byte*, std::int64_t);

template <class Src, class Dst>
void convert_row_bytes(const std::byte* s, std::byte* d, std::int64_t n) {
  convert_row(reinterpret_cast<const Src*>(s), reinterpret_cast<Dst*>(d), n);
}

// The row converter for a dtype pair; nullptr when the dtypes are equal (a plain memcpy).
inline Result<RowFn> row_converter(DType src, DType dst) {
  if (src == dst) return RowFn{nullptr};
  RowFn fn = nullptr;
  Status s = dispatch_dtype(src, [&](auto s_tag) {
    return dispatch_dtype(dst, [&](auto d_tag) {
      fn = &convert_row_bytes<typename decltype(s_tag)::type, typename decltype(d_tag)::type>;
      return Status::ok();
    });
  });
  if (!s) return s;
  return fn;
}

}  // namespace detail

namespace detail {

// The copy of copy_kv, gather_kv and scatter_kv once can_implement has passed.
inline Status copy_kv_rows(const KvCopyArgs& a) {
  Result<RowFn> fn = row_converter(a.src.dtype, a.dst.dtype);
  if (!fn) return fn.status();
  const std::int64_t heads = a.src.layout.num_kv_heads();
  const std::int64_t dim = a.src.layout.head_dim();
  const std::int64_t row_bytes = dim * dtype_size(a.src.dtype);
  const std::int64_t shift = a.dst_token_begin - a.src_tokens.begin;
  const std::int64_t src_head_bytes = a.src.layout.head_stride() * dtype_size(a.src.dtype);
  const std::int64_t dst_head_bytes = a.dst.layout.head_stride() * dtype_size(a.dst.dtype);
  // Same dtype: rows that are adjacent in both buffers (a page of NHD tokens, a whole
  // transfer layer) are merged into one memcpy; the merge costs a compare per row. Copies
  // larger than kStreamingCopyBytes store around the caches.
  const bool streaming =
      a.layers.count() * 2 * a.src_tokens.size() * heads * row_bytes > kStreamingCopyBytes;
  const std::byte* run_src = nullptr;
  std::byte* run_dst = nullptr;
  std::int64_t run_bytes = 0;
  auto flush = [&] {
    if (run_bytes <= 0) return;
    if (streaming) {
      copy_streaming(run_dst, run_src, static_cast<std::size_t>(run_bytes));
    } else {
      std::memcpy(run_dst, run_src, static_cast<std::size_t>(run_bytes));
    }
    run_bytes = 0;
  };
  for (std::int64_t i = 0; i < a.layers.count(); ++i) {
    const std::int64_t layer = a.layers.nth(i);
    for (KvPart part : {KvPart::kK, KvPart::kV}) {
      for (std::int64_t t = a.src_tokens.begin; t < a.src_tokens.end; ++t) {
        // One offset computation per token; its heads are a fixed stride apart.
        const std::byte* s = a.src.row(layer, part, t, 0);
        std::byte* d = a.dst.row(layer, part, t + shift, 0);
        for (std::int64_t h = 0; h < heads; ++h, s += src_head_bytes, d += dst_head_bytes) {
          if (*fn != nullptr) {
            (*fn)(s, d, dim);
          } else if (run_bytes > 0 && s == run_src + run_bytes && d == run_dst + run_bytes) {
            run_bytes += row_bytes;
          } else {
            flush();
            run_src = s;
            run_dst = d;
            run_bytes = row_bytes;
          }
        }
      }
    }
  }
  flush();
  if (streaming) streaming_fence();
  return Status::ok();
}

}  // namespace detail

//! Copies the selected K and V rows from `a.src` into `a.dst`, converting dtype with the
//! rounding of core/dtype.hpp (bit-exact for equal dtypes). Same-dtype copies of more than
//! kStreamingCopyBytes use non-temporal stores: the destination is not left in the caches.
//! @param a  views in host memory (index arrays too); see KvCopyArgs.
//! @return can_implement's status; on failure nothing is written. Empty layer sets and
//!         empty token ranges are valid and write nothing. Deterministic.
inline Status copy_kv(const KvCopyArgs& a) {
  DROIDSPEAK_TRY(can_implement(a, IndexMemory::kHost));
  return detail::copy_kv_rows(a);
}

//! copy_kv from a paged cache into a contiguous one (the sender packing its cache);
//! invalid_argument for any other layout pair (can_implement with CopyDirection::kGather).
inline Status gather_kv(const KvCopyArgs& a) {
  DROIDSPEAK_TRY(can_implement(a, IndexMemory::kHost, CopyDirection::kGather));
  return detail::copy_kv_rows(a);
}

//! copy_kv from a contiguous cache into a paged one (the receiver adopting a cache);
//! invalid_argument for any other layout pair (can_implement with CopyDirection::kScatter).
inline Status scatter_kv(const KvCopyArgs& a) {
  DROIDSPEAK_TRY(can_implement(a, IndexMemory::kHost, CopyDirection::kScatter));
  return detail::copy_kv_rows(a);
}

//! Copies the selected E-cache rows, converting dtype. Same contract as copy_kv.
inline Status copy_e(const ECopyArgs& a) {
  DROIDSPEAK_TRY(can_implement(a));
  Result<detail::RowFn> fn = detail::row_converter(a.src.dtype, a.dst.dtype);
  if (!fn) return fn.status();
  const std::int64_t hidden = a.src.layout.hidden_size;
  const std::int64_t shift = a.dst_token_begin - a.src_tokens.begin;
  for (std::int64_t i = 0; i < a.layers.count(); ++i) {
    const std::int64_t layer = a.layers.nth(i);
    for (std::int64_t t = a.src_tokens.begin; t < a.src_tokens.end; ++t) {
      const std::byte* s = a.src.row(layer, t);
      std::byte* d = a.dst.row(layer, t + shift);
      if (*fn == nullptr) {
        std::memcpy(d, s, static_cast<std::size_t>(hidden * dtype_size(a.src.dtype)));
      } else {
        (*fn)(s, d, hidden);
      }
    }
  }
  return Status::ok();
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
