// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `FastDivmod`: division by a run-time constant as a multiply-high, a subtract and
//! two shifts (Granlund and Montgomery, "Division by invariant integers using
//! multiplication", 1994, figure 4.1), with the remainder fused. The magic number is
//! computed once on the host; kernels take the divider by value. On a GPU a 64-bit `/` or
//! `%` is a software routine of dozens of instructions; this is a handful.
#pragma once

#include "droidspeak/core/config.hpp"

#include <cstdint>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace layout {

namespace detail {

__extension__ using Uint128 = unsigned __int128;  // host-only: the magic number's division

//! The high 64 bits of the 128-bit product a * b.
DROIDSPEAK_HOST_DEVICE std::uint64_t mul_high(std::uint64_t a, std::uint64_t b) {
#if defined(__CUDA_ARCH__)
  return __umul64hi(a, b);
#else
  return static_cast<std::uint64_t>((static_cast<Uint128>(a) * b) >> 64);
#endif
}

}  // namespace detail

//! Divides non-negative 64-bit integers by a fixed divisor d in [1, 2^63).
//! Exact for every dividend in [0, 2^63): q = (t + ((n - t) >> s1)) >> s2 with
//! t = mulhi(m, n), l = ceil(log2 d), m = floor(2^64 (2^l - d) / d) + 1, s1 = min(l, 1),
//! s2 = max(l - 1, 0). Models the `divmod` of layout::PlainDivmod (kv_addressing.hpp).
struct FastDivmod {
  std::int64_t divisor = 1;
  std::uint64_t magic = 1;  // d = 1: l = 0, m = 1, t = 0, q = n
  unsigned shift1 = 0;
  unsigned shift2 = 0;

  FastDivmod() = default;
  //! Precondition: 1 <= d (the layouts' validate() guarantees it for every divisor used).
  explicit FastDivmod(std::int64_t d) : divisor(d < 1 ? 1 : d) {
    const auto ud = static_cast<std::uint64_t>(divisor);
    unsigned l = 0;
    while ((std::uint64_t{1} << l) < ud) ++l;  // l <= 63 since d < 2^63
    const detail::Uint128 num = static_cast<detail::Uint128>((std::uint64_t{1} << l) - ud) << 64;
    magic = static_cast<std::uint64_t>(num / ud) + 1;
    shift1 = l < 1 ? l : 1;
    shift2 = l < 1 ? 0 : l - 1;
  }

  //! n / divisor for 0 <= n < 2^63.
  DROIDSPEAK_HOST_DEVICE std::int64_t quotient(std::int64_t n) const {
    const auto un = static_cast<std::uint64_t>(n);
    const std::uint64_t t = detail::mul_high(magic, un);
    return static_cast<std::int64_t>((t + ((un - t) >> shift1)) >> shift2);
  }
  //! q = n / divisor and r = n % divisor for 0 <= n < 2^63.
  DROIDSPEAK_HOST_DEVICE void divmod(std::int64_t n, std::int64_t& q, std::int64_t& r) const {
    q = quotient(n);
    r = n - q * divisor;
  }
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::layout
