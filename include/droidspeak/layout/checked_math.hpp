// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Overflow-checked 64-bit size arithmetic for validating shapes before any access.
#pragma once

#include "droidspeak/core/config.hpp"

#include <cstdint>
#include <initializer_list>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! Product of non-negative extents; false when it does not fit in int64 (the product is
//! then left unspecified). Example: checked_product({80, 2, 4096, 8, 128}, n) -> true.
inline bool checked_product(std::initializer_list<std::int64_t> extents, std::int64_t& product) {
  std::int64_t p = 1;
  for (std::int64_t e : extents) {
    if (e < 0 || __builtin_mul_overflow(p, e, &p)) return false;
  }
  product = p;
  return true;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
