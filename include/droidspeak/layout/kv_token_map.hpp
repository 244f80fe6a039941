// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `KvTokenMap`: the work of a KV transfer between two layouts as token units,
//! (selected layer, K|V, token), each one page lookup per side whose heads lie a fixed
//! stride apart. Built once on the host (strides, layer table, fast dividers) and passed
//! by value to the kernels; the host tests check it against `KvLayout::row_offset` without
//! a GPU, offsets past 4 GiB included.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/layout/any_layout.hpp"
#include "droidspeak/layout/fast_divmod.hpp"
#include "droidspeak/layout/kv_addressing.hpp"
#include "droidspeak/layout/layer_set.hpp"
#include "droidspeak/layout/token_range.hpp"

#include <cstdint>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! The selected layers in ascending order, expanded once on the host so a thread maps a
//! unit to its layer with one read instead of LayerSet::nth's bit loop.
struct LayerTable {
  std::uint8_t layer[kMaxLayers];
  std::int64_t count;

  static LayerTable of(const LayerSet& set) {
    LayerTable t{};
    t.count = 0;
    for (std::int64_t l = 0; l < kMaxLayers; ++l) {
      if (set.contains(l)) t.layer[t.count++] = static_cast<std::uint8_t>(l);
    }
    return t;
  }
};

//! One side (source or destination) of a transfer: the layout's table and a fast divider
//! by its page size.
struct KvSide {
  KvAddressing addr;
  FastDivmod pages;  // by addr.page_size; unused when unpaged

  static KvSide of(const KvLayout& l) {
    KvSide s{l.addressing(), {}};
    if (s.addr.page_size > 0) s.pages = FastDivmod(s.addr.page_size);
    return s;
  }
  //! Row (layer, part, token, head 0) in elements from the part's base; -1: skip.
  DROIDSPEAK_HOST_DEVICE std::int64_t token_offset(std::int64_t layer, KvPart part,
                                                   std::int64_t token) const {
    return addr.token_offset(layer, part, token, pages);
  }
};

//! A token unit: its place and the element offsets of its head-0 rows in both caches
//! (-1 on a side whose page is outside its pool: skip the unit).
struct KvTokenUnit {
  std::int64_t layer;
  KvPart part;
  std::int64_t src_token;
  std::int64_t dst_token;
  std::int64_t src_offset;
  std::int64_t dst_offset;
};

//! Units in the order (selected layer, K|V, token), token fastest: unit u is selected
//! layer u / (2 T), part (u / T) % 2, token u % T.
struct KvTokenMap {
  LayerTable layers;
  std::int64_t num_tokens;
  std::int64_t num_heads;
  std::int64_t src_token_begin;
  std::int64_t dst_token_begin;
  FastDivmod by_tokens;
  KvSide src;
  KvSide dst;

  //! Precondition: can_implement passed for (src, dst, layers, tokens, dst_token_begin).
  static KvTokenMap make(const KvLayout& src, const KvLayout& dst, const LayerSet& layers,
                         const TokenRange& src_tokens, std::int64_t dst_token_begin) {
    return {LayerTable::of(layers),
            src_tokens.size(),
            src.num_kv_heads(),
            src_tokens.begin,
            dst_token_begin,
            FastDivmod(src_tokens.size() < 1 ? 1 : src_tokens.size()),
            KvSide::of(src),
            KvSide::of(dst)};
  }

  DROIDSPEAK_HOST_DEVICE std::int64_t size() const { return layers.count * 2 * num_tokens; }
  DROIDSPEAK_HOST_DEVICE std::int64_t rows() const { return size() * num_heads; }

  DROIDSPEAK_HOST_DEVICE KvTokenUnit at(std::int64_t u) const {
    std::int64_t layer_part = 0;
    std::int64_t t = 0;
    by_tokens.divmod(u, layer_part, t);
    KvTokenUnit unit;
    unit.layer = layers.layer[layer_part >> 1];
    unit.part = static_cast<KvPart>(layer_part & 1);
    unit.src_token = src_token_begin + t;
    unit.dst_token = dst_token_begin + t;
    unit.src_offset = src.token_offset(unit.layer, unit.part, unit.src_token);
    unit.dst_offset = dst.token_offset(unit.layer, unit.part, unit.dst_token);
    return unit;
  }
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
