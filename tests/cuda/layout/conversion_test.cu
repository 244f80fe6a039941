// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The dtype conversions of core/dtype.hpp (what every kernel and the host use)
//! against the CUDA intrinsics on the device: all 2^16 halves and bfloat16s and all 256
//! fp8 values widened, and floats narrowed: every sign/exponent/top-mantissa pattern with
//! the rounding-critical low halves (ties, ties +-1, zero, all ones), plus 2^24 hashed floats.
#include "droidspeak/core/dtype.hpp"
#include "support.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <ios>
#include <vector>

using namespace droidspeak;

namespace {

// Mismatches per conversion, and the first input of each that mismatched.
enum Conversion : int { kHalfToFloat, kBf16ToFloat, kFp8ToFloat, kToHalf, kToBf16, kToFp8, kCount };
const char* const kNames[kCount] = {"f16 -> f32", "bf16 -> f32", "fp8 -> f32",
                                    "f32 -> f16", "f32 -> bf16", "f32 -> fp8 e4m3 satfinite"};

struct Report {
  unsigned long long mismatches[kCount];
  unsigned int first[kCount];  // the input bits of a mismatch (any one of them)
};

__device__ void note(Report* r, int which, unsigned int input) {
  atomicAdd(&r->mismatches[which], 1ull);
  r->first[which] = input;  // racy on purpose: any mismatching input will do
}

// Widened values must be the same bits, except that a NaN need only stay a NaN (the
// library promises no NaN payload when widening).
__device__ bool same_float(float a, float b) {
  if (a != a && b != b) return true;
  return __float_as_uint(a) == __float_as_uint(b);
}

__global__ void widen_kernel(Report* r) {
  const unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= 65536u) return;
  const auto bits = static_cast<std::uint16_t>(i);
  __half_raw hr;
  hr.x = bits;
  if (!same_float(to_float(Half{bits}), __half2float(__half(hr)))) note(r, kHalfToFloat, i);
  __nv_bfloat16_raw br;
  br.x = bits;
  if (!same_float(to_float(BFloat16{bits}), __bfloat162float(__nv_bfloat16(br)))) {
    note(r, kBf16ToFloat, i);
  }
  if (i < 256u) {
    const auto fp8 = static_cast<__nv_fp8_storage_t>(i);
    const float hw = __half2float(__half(__nv_cvt_fp8_to_halfraw(fp8, __NV_E4M3)));
    if (!same_float(to_float(Fp8E4M3{static_cast<std::uint8_t>(i)}), hw)) note(r, kFp8ToFloat, i);
  }
}

// Narrowing: bit-exact, NaN included (core/dtype.hpp documents the intrinsic's NaN).
__device__ void narrow(Report* r, unsigned int bits) {
  const float f = __uint_as_float(bits);
  if (from_float<Half>(f).bits != __half_raw(__float2half_rn(f)).x) note(r, kToHalf, bits);
  if (from_float<BFloat16>(f).bits != __nv_bfloat16_raw(__float2bfloat16_rn(f)).x) {
    note(r, kToBf16, bits);
  }
  if (from_float<Fp8E4M3>(f).bits != __nv_cvt_float_to_fp8(f, __NV_SATFINITE, __NV_E4M3)) {
    note(r, kToFp8, bits);
  }
}

// Every high half (sign, exponent, top 7 mantissa bits) with the low halves that decide
// rounding: bit 15 is bf16's tie, bit 12 half's (bits 19 and 20, fp8's, are in the high half).
__constant__ unsigned int kLowHalves[] = {0x0000u, 0x0001u, 0x0FFFu, 0x1000u, 0x1001u, 0x2000u,
                                          0x3000u, 0x7FFFu, 0x8000u, 0x8001u, 0x9000u, 0xFFFFu};
constexpr unsigned int kLowCount = 12;

__global__ void narrow_patterns_kernel(Report* r) {
  const unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= 65536u * kLowCount) return;
  narrow(r, ((i / kLowCount) << 16) | kLowHalves[i % kLowCount]);
}

__global__ void narrow_hashed_kernel(Report* r, unsigned int n) {
  const unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  unsigned int h = i * 2654435761u;  // Knuth's multiplicative hash spreads over all bits
  h ^= h >> 15;
  narrow(r, h * 2246822519u);
}

}  // namespace

TEST_CASE("core/dtype.hpp conversions equal the CUDA intrinsics on every tested input") {
  test::DeviceBuffer d_report(sizeof(Report));
  test::check_cuda(cudaMemset(d_report.get(), 0, sizeof(Report)));
  auto* r = reinterpret_cast<Report*>(d_report.get());
  widen_kernel<<<256, 256>>>(r);
  narrow_patterns_kernel<<<(65536 * kLowCount + 255) / 256, 256>>>(r);
  constexpr unsigned int kHashed = 1u << 24;
  narrow_hashed_kernel<<<kHashed / 256, 256>>>(r, kHashed);
  test::check_cuda(cudaGetLastError());
  test::check_cuda(cudaDeviceSynchronize());
  Report host{};
  const std::vector<std::byte> bytes = d_report.download(sizeof(Report));
  std::memcpy(&host, bytes.data(), sizeof host);
  for (int c = 0; c < kCount; ++c) {
    INFO(kNames[c] << ": " << host.mismatches[c] << " mismatches, e.g. input bits 0x" << std::hex
                   << host.first[c]);
    CHECK(host.mismatches[c] == 0);
  }
}
