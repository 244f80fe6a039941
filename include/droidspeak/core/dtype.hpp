// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The element types droidspeak moves (f32, f16, bf16, fp8 e4m3, int8) and their
//! conversions, bit-identical on host and device to CUDA's own conversion intrinsics.
#pragma once

#include "droidspeak/core/config.hpp"

#include <cmath>        // std::nearbyint
#include <cstdint>
#include <cstring>      // std::memcpy: bit casts that nvcc and g++ both accept
#include <string_view>

namespace droidspeak { inline namespace DROIDSPEAK_ABI {

//! Runtime tag of an element type.
enum class DType : std::uint8_t { kF32 = 0, kF16, kBF16, kFP8E4M3, kI8 };

//! Every dtype, in declaration order (for sweeps and dispatch).
inline constexpr DType kAllDTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kFP8E4M3,
                                       DType::kI8};

//! Bytes per element: 4, 2, 2, 1, 1.
DROIDSPEAK_HOST_DEVICE constexpr std::int64_t dtype_size(DType d) noexcept {
  switch (d) {
    case DType::kF32: return 4;
    case DType::kF16:
    case DType::kBF16: return 2;
    case DType::kFP8E4M3:
    case DType::kI8: return 1;
  }
  return 0;
}

//! "f32", "f16", "bf16", "fp8_e4m3", "int8".
constexpr std::string_view to_string(DType d) noexcept {
  switch (d) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kFP8E4M3: return "fp8_e4m3";
    case DType::kI8: return "int8";
  }
  return "unknown";
}

//! True when `d` is a valid enumerator (a DType read from a file may not be).
constexpr bool is_valid(DType d) noexcept { return static_cast<std::uint8_t>(d) <= 4; }

//! IEEE binary16, stored as its bits.
struct Half {
  std::uint16_t bits;
};
//! bfloat16 (the upper half of an IEEE binary32), stored as its bits.
struct BFloat16 {
  std::uint16_t bits;
};
//! OCP fp8 E4M3 (bias 7, no infinity, NaN = S.1111.111, max finite 448), stored as its bits.
struct Fp8E4M3 {
  std::uint8_t bits;
};

namespace detail {

DROIDSPEAK_HOST_DEVICE std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
DROIDSPEAK_HOST_DEVICE float bits_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Rounds the 24-bit significand `m` (implicit bit set) right by `shift` bits, to nearest
// with ties to even. `shift` is in [1, 24].
DROIDSPEAK_HOST_DEVICE std::uint32_t round_significand(std::uint32_t m, int shift) {
  const std::uint32_t q = m >> shift;
  const std::uint32_t rem = m & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1);
  return q + ((rem > half || (rem == half && (q & 1u))) ? 1u : 0u);
}

}  // namespace detail

//! f16 -> f32, exact (subnormals, infinities and NaN payloads kept).
DROIDSPEAK_HOST_DEVICE float to_float(Half h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h.bits & 0x8000u) << 16;
  const std::uint32_t exp = (h.bits >> 10) & 0x1Fu;
  const std::uint32_t mant = h.bits & 0x3FFu;
  if (exp == 0x1Fu) return detail::bits_float(sign | 0x7F800000u | (mant << 13));
  if (exp != 0) return detail::bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
  // Subnormal or zero: mant * 2^-24, exact in f32.
  const float mag = static_cast<float>(mant) * 5.9604644775390625e-8f;
  return sign ? -mag : mag;
}

//! bf16 -> f32, exact.
DROIDSPEAK_HOST_DEVICE float to_float(BFloat16 b) {
  return detail::bits_float(static_cast<std::uint32_t>(b.bits) << 16);
}

//! fp8 e4m3 -> f32, exact; both NaN encodings give a quiet NaN of the same sign.
DROIDSPEAK_HOST_DEVICE float to_float(Fp8E4M3 v) {
  const std::uint32_t sign = static_cast<std::uint32_t>(v.bits & 0x80u) << 24;
  const std::uint32_t exp = (v.bits >> 3) & 0xFu;
  const std::uint32_t mant = v.bits & 0x7u;
  if (exp == 0xFu && mant == 0x7u) return detail::bits_float(sign | 0x7FC00000u);
  if (exp != 0) return detail::bits_float(sign | ((exp + 120u) << 23) | (mant << 20));
  const float mag = static_cast<float>(mant) * 0.001953125f;  // mant * 2^-9
  return sign ? -mag : mag;
}

DROIDSPEAK_HOST_DEVICE float to_float(std::int8_t v) { return static_cast<float>(v); }
DROIDSPEAK_HOST_DEVICE float to_float(float v) { return v; }

//! f32 -> f16, round to nearest even; overflow gives infinity and NaN gives 0x7FFF,
//! exactly as `__float2half_rn`.
DROIDSPEAK_HOST_DEVICE Half to_half(float f) {
  const std::uint32_t u = detail::float_bits(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  const std::uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return {0x7FFFu};
  if (a == 0x7F800000u) return {static_cast<std::uint16_t>(sign | 0x7C00u)};
  const int exp = static_cast<int>(a >> 23) - 127;
  if (exp < -25) return {sign};
  const std::uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
  std::uint32_t out;
  if (exp >= -14) {
    const std::uint32_t q = detail::round_significand(m, 13);  // in [1024, 2048]
    out = (static_cast<std::uint32_t>(exp + 15) << 10) + (q - 1024u);
    if (out > 0x7C00u) out = 0x7C00u;
  } else {
    out = detail::round_significand(m, 13 + (-14 - exp));  // subnormal: mant in 2^-24 units
  }
  return {static_cast<std::uint16_t>(sign | out)};
}

//! f32 -> bf16, round to nearest even; NaN gives 0x7FFF, exactly as `__float2bfloat16_rn`.
DROIDSPEAK_HOST_DEVICE BFloat16 to_bfloat16(float f) {
  const std::uint32_t u = detail::float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return {0x7FFFu};
  const std::uint32_t rounded = u + 0x7FFFu + ((u >> 16) & 1u);
  return {static_cast<std::uint16_t>(rounded >> 16)};
}

//! f32 -> fp8 e4m3, round to nearest even and saturate to +-448 (infinities too); NaN gives
//! 0x7F. This is `__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3)` as sm_89+ computes it.
DROIDSPEAK_HOST_DEVICE Fp8E4M3 to_fp8_e4m3(float f) {
  const std::uint32_t u = detail::float_bits(f);
  const std::uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return {0x7Fu};
  const std::uint8_t sign = static_cast<std::uint8_t>((u >> 24) & 0x80u);
  const int exp = static_cast<int>(a >> 23) - 127;
  if (exp < -10) return {sign};
  std::uint32_t out;
  if (exp > 8) {
    out = 0x7Eu;  // past the largest binade (and infinity): saturate
  } else {
    const std::uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
    if (exp >= -6) {
      const std::uint32_t q = detail::round_significand(m, 20);  // in [8, 16]
      out = (static_cast<std::uint32_t>(exp + 7) << 3) + (q - 8u);
    } else {
      out = detail::round_significand(m, 20 + (-6 - exp));  // subnormal: mant in 2^-9 units
    }
    if (out > 0x7Eu) out = 0x7Eu;
  }
  return {static_cast<std::uint8_t>(sign | out)};
}

//! f32 -> int8, round to nearest even and saturate to [-128, 127]; NaN gives 0, exactly as
//! `cvt.rni.sat.s8.f32`.
DROIDSPEAK_HOST_DEVICE std::int8_t to_int8(float f) {
  if (!(f == f)) return 0;
  const float c = f < -128.0f ? -128.0f : (f > 127.0f ? 127.0f : f);
#if defined(__CUDA_ARCH__)
  return static_cast<std::int8_t>(__float2int_rn(c));
#else
  return static_cast<std::int8_t>(std::nearbyint(c));  // default mode: ties to even
#endif
}

//! Maps a storage type to its DType tag.
template <class T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::kF32;
};
template <>
struct DTypeOf<Half> {
  static constexpr DType value = DType::kF16;
};
template <>
struct DTypeOf<BFloat16> {
  static constexpr DType value = DType::kBF16;
};
template <>
struct DTypeOf<Fp8E4M3> {
  static constexpr DType value = DType::kFP8E4M3;
};
template <>
struct DTypeOf<std::int8_t> {
  static constexpr DType value = DType::kI8;
};

//! f32 -> any storage type T, with the rounding of the matching function above.
template <class T>
DROIDSPEAK_HOST_DEVICE T from_float(float f) {
  if constexpr (DTypeOf<T>::value == DType::kF32) {
    return f;
  } else if constexpr (DTypeOf<T>::value == DType::kF16) {
    return to_half(f);
  } else if constexpr (DTypeOf<T>::value == DType::kBF16) {
    return to_bfloat16(f);
  } else if constexpr (DTypeOf<T>::value == DType::kFP8E4M3) {
    return to_fp8_e4m3(f);
  } else {
    return to_int8(f);
  }
}

//! The largest finite value of a quantised type: 448 for fp8 e4m3, 127 for int8.
constexpr float quant_max(DType d) noexcept {
  return d == DType::kFP8E4M3 ? 448.0f : (d == DType::kI8 ? 127.0f : 0.0f);
}

}}  // namespace droidspeak::DROIDSPEAK_ABI
