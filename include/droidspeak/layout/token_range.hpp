// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `TokenRange`: a half-open range of token positions.
#pragma once

#include "droidspeak/core/config.hpp"

#include <cstdint>
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

//! Tokens [begin, end). Empty when begin == end.
struct TokenRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;

  DROIDSPEAK_HOST_DEVICE constexpr std::int64_t size() const { return end - begin; }
  std::string to_string() const {
    return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
  }
  friend constexpr bool operator==(const TokenRange&, const TokenRange&) = default;
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
