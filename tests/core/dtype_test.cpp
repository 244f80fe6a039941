// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Conversions: decoding against known values, encoding against an independent
//! nearest-value search over every code of the type, and the boundary cases CUDA defines.
#include "droidspeak/core/dtype.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

using namespace droidspeak;

namespace {

// Independent reference: round `x` to the nearest of `codes` (finite values with their bit
// patterns, sorted by value), ties to the code with an even last bit.
struct Code {
  double value;
  std::uint32_t bits;
};

std::uint32_t nearest_code(const std::vector<Code>& codes, double x) {
  std::size_t best = 0;
  double best_d = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const double d = std::fabs(codes[i].value - x);
    if (d < best_d || (d == best_d && (codes[i].bits & 1u) == 0 && (codes[best].bits & 1u) == 1)) {
      best = i;
      best_d = d;
    }
  }
  return codes[best].bits;
}

std::vector<Code> finite_codes(int bits, float (*decode)(std::uint32_t)) {
  std::vector<Code> out;
  for (std::uint32_t b = 0; b < (1u << bits); ++b) {
    const float v = decode(b);
    if (std::isfinite(v)) out.push_back({static_cast<double>(v), b});
  }
  return out;
}

float decode_half(std::uint32_t b) { return to_float(Half{static_cast<std::uint16_t>(b)}); }
float decode_fp8(std::uint32_t b) { return to_float(Fp8E4M3{static_cast<std::uint8_t>(b)}); }

// The sign of -0.0 and of values that round to zero must survive; the nearest-code search
// finds +0 for both, so compare magnitudes and the sign bit separately.
std::vector<float> probe_values() {
  std::vector<float> v = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 1.5f, 2.5f, 3.5f, 448.0f, 464.0f, 465.0f,
                          480.0f, 65504.0f, 65519.0f, 65520.0f, 1e-8f, 6e-8f, 5.9604645e-8f,
                          2.98023224e-8f, 2.9802325e-8f, 0.001953125f, 0.0009765625f,
                          0.00097656255f, 0.015625f, 0.0146484375f, 1e-40f, -1e-40f, 1e30f, -1e30f,
                          std::numeric_limits<float>::denorm_min(),
                          std::numeric_limits<float>::max(), -std::numeric_limits<float>::max()};
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::uint32_t> any;
  for (int i = 0; i < 4000; ++i) {
    const float f = std::bit_cast<float>(any(rng));
    if (std::isfinite(f)) v.push_back(f);
  }
  std::normal_distribution<float> n(0.0f, 30.0f);
  for (int i = 0; i < 4000; ++i) v.push_back(n(rng));
  return v;
}

}  // namespace

TEST_CASE("decoding known codes") {
  CHECK(to_float(Half{0x3C00}) == 1.0f);
  CHECK(to_float(Half{0x7BFF}) == 65504.0f);
  CHECK(to_float(Half{0x0001}) == std::ldexp(1.0f, -24));
  CHECK(to_float(Half{0x0400}) == std::ldexp(1.0f, -14));
  CHECK(std::isinf(to_float(Half{0xFC00})));
  CHECK(std::signbit(to_float(Half{0x8000})));
  CHECK(std::isnan(to_float(Half{0x7E00})));
  CHECK(to_float(BFloat16{0x3F80}) == 1.0f);
  CHECK(to_float(BFloat16{0x7F7F}) == std::bit_cast<float>(0x7F7F0000u));
  CHECK(to_float(Fp8E4M3{0x7E}) == 448.0f);
  CHECK(to_float(Fp8E4M3{0xFE}) == -448.0f);
  CHECK(to_float(Fp8E4M3{0x01}) == std::ldexp(1.0f, -9));
  CHECK(to_float(Fp8E4M3{0x08}) == std::ldexp(1.0f, -6));
  CHECK(to_float(Fp8E4M3{0x38}) == 1.0f);
  CHECK(std::isnan(to_float(Fp8E4M3{0x7F})));
  CHECK(std::isnan(to_float(Fp8E4M3{0xFF})));
  CHECK(to_float(std::int8_t{-128}) == -128.0f);
}

TEST_CASE("f32 -> f16 rounds to nearest even and overflows to infinity") {
  const std::vector<Code> codes = finite_codes(16, decode_half);
  for (float x : probe_values()) {
    const std::uint16_t got = to_half(x).bits;
    const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    if (std::fabs(x) >= 65520.0f) {  // halfway past the largest finite value rounds up to inf
      CHECK_MESSAGE(got == (sign | 0x7C00), x);
      continue;
    }
    const std::uint32_t mag = nearest_code(codes, std::fabs(static_cast<double>(x))) & 0x7FFFu;
    CHECK_MESSAGE(got == (sign | mag), x);
  }
  CHECK(to_half(std::numeric_limits<float>::infinity()).bits == 0x7C00);
  CHECK(to_half(-std::numeric_limits<float>::infinity()).bits == 0xFC00);
  CHECK(to_half(std::numeric_limits<float>::quiet_NaN()).bits == 0x7FFF);
  CHECK(to_half(-std::numeric_limits<float>::quiet_NaN()).bits == 0x7FFF);
  CHECK(to_half(65504.0f).bits == 0x7BFF);
  CHECK(to_half(65519.99f).bits == 0x7BFF);
  CHECK(to_half(std::ldexp(1.0f, -25)).bits == 0x0000);       // tie to even: 0
  CHECK(to_half(std::ldexp(1.5f, -25)).bits == 0x0001);       // above the tie
  CHECK(to_half(std::ldexp(3.0f, -25)).bits == 0x0002);       // 1.5 ulp ties to even 2
}

TEST_CASE("f32 -> f16 agrees with the compiler's _Float16 on finite values") {
  for (float x : probe_values()) {
    const _Float16 h = static_cast<_Float16>(x);
    CHECK_MESSAGE(to_half(x).bits == std::bit_cast<std::uint16_t>(h), x);
  }
}

TEST_CASE("f32 -> bf16 rounds to nearest even") {
  std::mt19937 rng(11);
  std::uniform_int_distribution<std::uint32_t> any;
  for (int i = 0; i < 20000; ++i) {
    const std::uint32_t u = any(rng);
    const float x = std::bit_cast<float>(u);
    if (std::isnan(x)) {
      CHECK(to_bfloat16(x).bits == 0x7FFF);
      continue;
    }
    // Reference: the two bf16 neighbours in double precision.
    // Reference: pick the nearer of the two bf16 neighbours in double precision.
    const std::uint32_t lo_bits = u & 0xFFFF0000u;
    const double lo = std::bit_cast<float>(lo_bits);
    const double next = std::ldexp(1.0, std::ilogb(lo == 0.0 ? 1e-38 : lo) - 7) *
                        (std::signbit(x) ? -1.0 : 1.0);
    const double dx = static_cast<double>(x) - lo;
    std::uint32_t expect = lo_bits >> 16;
    if (std::fabs(dx) * 2 > std::fabs(next) ||
        (std::fabs(dx) * 2 == std::fabs(next) && (expect & 1u))) {
      expect += 1;
    }
    if (std::fabs(lo) < 1.2e-38) continue;  // subnormal neighbours: covered by the cases below
    CHECK_MESSAGE(to_bfloat16(x).bits == expect, x);
  }
  CHECK(to_bfloat16(1.0f).bits == 0x3F80);
  CHECK(to_bfloat16(std::bit_cast<float>(0x3F808000u)).bits == 0x3F80);  // tie, even stays
  CHECK(to_bfloat16(std::bit_cast<float>(0x3F818000u)).bits == 0x3F82);  // tie, odd rounds up
  CHECK(to_bfloat16(std::bit_cast<float>(0x7F7FFFFFu)).bits == 0x7F80);  // overflow to inf
  CHECK(to_bfloat16(-0.0f).bits == 0x8000);
  CHECK(to_bfloat16(std::numeric_limits<float>::denorm_min()).bits == 0x0000);
  CHECK(to_bfloat16(std::numeric_limits<float>::infinity()).bits == 0x7F80);
}

TEST_CASE("f32 -> fp8 e4m3 rounds to nearest even and saturates to 448") {
  const std::vector<Code> codes = finite_codes(8, decode_fp8);
  for (float x : probe_values()) {
    const std::uint8_t got = to_fp8_e4m3(x).bits;
    const std::uint8_t sign = std::signbit(x) ? 0x80 : 0;
    // Past 448 every finite value saturates (satfinite); the search below would lose
    // precision on huge inputs, so the rule is stated directly.
    const double ax = std::fabs(static_cast<double>(x));
    const std::uint32_t mag = ax > 448.0 ? 0x7Eu : (nearest_code(codes, ax) & 0x7Fu);
    CHECK_MESSAGE(got == (sign | mag), x);
  }
  CHECK(to_fp8_e4m3(448.0f).bits == 0x7E);
  CHECK(to_fp8_e4m3(464.0f).bits == 0x7E);   // tie between 448 and (NaN) 480: even 448
  CHECK(to_fp8_e4m3(1e6f).bits == 0x7E);
  CHECK(to_fp8_e4m3(-1e6f).bits == 0xFE);
  CHECK(to_fp8_e4m3(std::numeric_limits<float>::infinity()).bits == 0x7E);
  CHECK(to_fp8_e4m3(-std::numeric_limits<float>::infinity()).bits == 0xFE);
  CHECK(to_fp8_e4m3(std::numeric_limits<float>::quiet_NaN()).bits == 0x7F);
  CHECK(to_fp8_e4m3(std::ldexp(1.0f, -10)).bits == 0x00);   // half the smallest subnormal: even 0
  CHECK(to_fp8_e4m3(-std::ldexp(1.0f, -10)).bits == 0x80);
  CHECK(to_fp8_e4m3(std::ldexp(3.0f, -10)).bits == 0x02);   // 1.5 subnormal ulps: even 2
  CHECK(to_fp8_e4m3(std::ldexp(15.0f, -10)).bits == 0x08);  // rounds up into the normal range
  CHECK(to_fp8_e4m3(-0.0f).bits == 0x80);
}

TEST_CASE("f32 -> int8 rounds to nearest even and saturates; NaN is 0") {
  CHECK(to_int8(0.5f) == 0);
  CHECK(to_int8(1.5f) == 2);
  CHECK(to_int8(2.5f) == 2);
  CHECK(to_int8(-2.5f) == -2);
  CHECK(to_int8(-0.5f) == 0);
  CHECK(to_int8(126.5f) == 126);
  CHECK(to_int8(127.5f) == 127);
  CHECK(to_int8(1e9f) == 127);
  CHECK(to_int8(-1e9f) == -128);
  CHECK(to_int8(-128.5f) == -128);
  CHECK(to_int8(std::numeric_limits<float>::infinity()) == 127);
  CHECK(to_int8(-std::numeric_limits<float>::infinity()) == -128);
  CHECK(to_int8(std::numeric_limits<float>::quiet_NaN()) == 0);
  for (int i = -128; i <= 127; ++i) CHECK(to_int8(static_cast<float>(i)) == i);
}

TEST_CASE("every f16, bf16 and fp8 code survives a round trip through f32") {
  for (std::uint32_t b = 0; b < 0x10000u; ++b) {
    const Half h{static_cast<std::uint16_t>(b)};
    const float f = to_float(h);
    if (std::isnan(f)) continue;
    REQUIRE(to_half(f).bits == h.bits);
    const BFloat16 bf{static_cast<std::uint16_t>(b)};
    if (!std::isnan(to_float(bf))) REQUIRE(to_bfloat16(to_float(bf)).bits == bf.bits);
  }
  for (std::uint32_t b = 0; b < 0x100u; ++b) {
    const Fp8E4M3 q{static_cast<std::uint8_t>(b)};
    if (std::isnan(to_float(q))) continue;
    REQUIRE(to_fp8_e4m3(to_float(q)).bits == q.bits);
  }
}

TEST_CASE("dtype metadata") {
  CHECK(dtype_size(DType::kF32) == 4);
  CHECK(dtype_size(DType::kBF16) == 2);
  CHECK(dtype_size(DType::kFP8E4M3) == 1);
  CHECK(to_string(DType::kFP8E4M3) == "fp8_e4m3");
  CHECK(!is_valid(static_cast<DType>(9)));
  CHECK(quant_max(DType::kI8) == 127.0f);
}
