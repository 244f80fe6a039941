// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Test helpers: deterministic random buffers and byte views of std::vector.
#pragma once

#include "droidspeak/core/dtype.hpp"
#include "droidspeak/layout/view.hpp"

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace droidspeak::test {

//! `n` elements of `dtype` holding N(0, sigma) values (never all zeros), as raw bytes.
inline std::vector<std::byte> random_bytes(DType dtype, std::int64_t n, std::uint64_t seed,
                                           float sigma = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<std::byte> out(static_cast<std::size_t>(n * dtype_size(dtype)));
  for (std::int64_t i = 0; i < n; ++i) {
    float v = dist(rng);
    if (v == 0.0f) v = 0.25f;
    std::byte* p = out.data() + i * dtype_size(dtype);
    switch (dtype) {
      case DType::kF32: std::memcpy(p, &v, 4); break;
      case DType::kF16: { Half h = to_half(v); std::memcpy(p, &h, 2); break; }
      case DType::kBF16: { BFloat16 b = to_bfloat16(v); std::memcpy(p, &b, 2); break; }
      case DType::kFP8E4M3: { Fp8E4M3 q = to_fp8_e4m3(v * 16.0f); std::memcpy(p, &q, 1); break; }
      case DType::kI8: { std::int8_t q = to_int8(v * 40.0f); std::memcpy(p, &q, 1); break; }
    }
  }
  return out;
}

//! A buffer of `bytes` bytes filled with a non-zero poison pattern.
inline std::vector<std::byte> poisoned(std::int64_t bytes) {
  return std::vector<std::byte>(static_cast<std::size_t>(bytes), std::byte{0x5A});
}

//! Element `i` of a raw buffer of `dtype`, as f32.
inline float element(const std::byte* data, DType dtype, std::int64_t i) {
  const std::byte* p = data + i * dtype_size(dtype);
  switch (dtype) {
    case DType::kF32: { float v; std::memcpy(&v, p, 4); return v; }
    case DType::kF16: { Half h; std::memcpy(&h, p, 2); return to_float(h); }
    case DType::kBF16: { BFloat16 b; std::memcpy(&b, p, 2); return to_float(b); }
    case DType::kFP8E4M3: { Fp8E4M3 q; std::memcpy(&q, p, 1); return to_float(q); }
    case DType::kI8: { std::int8_t q; std::memcpy(&q, p, 1); return to_float(q); }
  }
  return 0.0f;
}

}  // namespace droidspeak::test
