// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Typed, non-owning views: base pointer(s) + layout + dtype.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/any_layout.hpp"
#include "droidspeak/layout/e_cache_layout.hpp"

#include <cstdint>
#include <string>
#include <type_traits>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! A KV cache in memory the caller owns. With a split-pool paged layout K rows are offsets
//! from `k_data` and V rows from `v_data`; with every other layout both point to the one
//! buffer (the constructors below set that up). Each base buffer holds
//! `layout.pool_elements()` elements of `dtype`.
//! @tparam Byte std::byte for a writable view, const std::byte for a read-only one.
template <class Byte>
struct BasicKvView {
  static_assert(std::is_same_v<std::remove_const_t<Byte>, std::byte>, "Byte must be (const) std::byte");
  Byte* k_data = nullptr;
  Byte* v_data = nullptr;
  DType dtype = DType::kF32;
  KvLayout layout{};

  BasicKvView() = default;
  //! One buffer for K and V (transfer layout, or a fused page pool).
  BasicKvView(Byte* data, DType d, const KvLayout& l) : k_data(data), v_data(data), dtype(d), layout(l) {}
  //! Separate K and V pools (split paged layouts).
  BasicKvView(Byte* k, Byte* v, DType d, const KvLayout& l) : k_data(k), v_data(v), dtype(d), layout(l) {}
  //! A read-only view of a writable one.
  template <class Other>
    requires(std::is_const_v<Byte> && !std::is_const_v<Other>)
  BasicKvView(const BasicKvView<Other>& o)  // NOLINT: implicit like T* -> const T*
      : k_data(o.k_data), v_data(o.v_data), dtype(o.dtype), layout(o.layout) {}

  //! Byte address of row (layer, part, token, head); nullptr for an out-of-pool page.
  DROIDSPEAK_HOST_DEVICE Byte* row(std::int64_t layer, KvPart part, std::int64_t token,
                                   std::int64_t head) const {
    const std::int64_t off = layout.row_offset(layer, part, token, head);
    if (off < 0) return nullptr;
    return (part == KvPart::kV && layout.two_bases() ? v_data : k_data) + off * dtype_size(dtype);
  }
  //! Bytes of each base buffer.
  std::int64_t pool_bytes() const { return layout.pool_elements() * dtype_size(dtype); }
};

using KvView = BasicKvView<std::byte>;
using ConstKvView = BasicKvView<const std::byte>;

//! An E cache in memory the caller owns: `layout.pool_elements()` elements of `dtype`.
template <class Byte>
struct BasicEView {
  Byte* data = nullptr;
  DType dtype = DType::kF32;
  ECacheLayout layout{};

  template <class Other>
    requires(std::is_const_v<Byte> && !std::is_const_v<Other>)
  BasicEView(const BasicEView<Other>& o) : data(o.data), dtype(o.dtype), layout(o.layout) {}  // NOLINT
  BasicEView() = default;
  BasicEView(Byte* d, DType t, const ECacheLayout& l) : data(d), dtype(t), layout(l) {}

  DROIDSPEAK_HOST_DEVICE Byte* row(std::int64_t layer, std::int64_t token) const {
    return data + layout.row_offset(layer, token) * dtype_size(dtype);
  }
  std::int64_t bytes() const { return layout.pool_elements() * dtype_size(dtype); }
};

using EView = BasicEView<std::byte>;
using ConstEView = BasicEView<const std::byte>;

//! Checks a view: a valid dtype, a valid layout, and non-null bases when it has rows.
template <class Byte>
Status validate_view(const BasicKvView<Byte>& v, const char* name, bool host_indices) {
  if (!is_valid(v.dtype)) return Status::invalid_argument(std::string(name) + ": unknown dtype");
  Status s = host_indices ? v.layout.validate_host_indices() : v.layout.validate();
  if (!s) return s.with_context(name);
  if (v.layout.pool_elements() > 0 && (v.k_data == nullptr || v.v_data == nullptr)) {
    return Status::invalid_argument(std::string(name) + ": data pointer is null");
  }
  return Status::ok();
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
