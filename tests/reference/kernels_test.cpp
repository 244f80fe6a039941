// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The reference row kernels against their formulas: RoPE, llama3 scaling, RMSNorm,
//! SwiGLU, masked softmax, exp, gemm.
#include "droidspeak/reference/kernels.hpp"

#include <doctest/doctest.h>

#include "support/skip.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <vector>

using namespace droidspeak;

namespace {
io::HfConfig rope_config(std::int64_t head_dim, float theta) {
  io::HfConfig c{};
  c.head_dim = head_dim;
  c.rope.theta = theta;
  return c;
}
}  // namespace

TEST_CASE("kernels: default inverse frequencies are 1 / theta^(2i/d)") {
  const auto inv = reference::rope_inv_freq(rope_config(64, 10000.0f));
  REQUIRE(inv.size() == 32);
  for (int i = 0; i < 32; ++i) {
    CHECK(inv[i] == doctest::Approx(1.0 / std::pow(10000.0, 2.0 * i / 64)).epsilon(1e-6));
  }
}

TEST_CASE("kernels: rotate-half RoPE equals the direct rotation of (x_i, x_{i+d/2})") {
  const std::int64_t d = 8;
  const auto inv = reference::rope_inv_freq(rope_config(d, 10000.0f));
  for (std::int64_t pos : {0, 1, 17, 1000}) {
    std::vector<float> c(d / 2), s(d / 2);
    reference::rope_cos_sin(pos, inv, c.data(), s.data());
    std::vector<float> x = {0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.75f, 0.1f, 3.0f,   // head 0
                            1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f};      // head 1
    const std::vector<float> x0 = x;
    reference::apply_rope(x.data(), 2, d, c.data(), s.data());
    for (int h = 0; h < 2; ++h) {
      for (int i = 0; i < d / 2; ++i) {
        const double theta = static_cast<double>(pos) / std::pow(10000.0, 2.0 * i / d);
        const double a = x0[h * d + i], b = x0[h * d + i + d / 2];
        CHECK(x[h * d + i] == doctest::Approx(a * std::cos(theta) - b * std::sin(theta)).epsilon(1e-4));
        CHECK(x[h * d + i + d / 2] == doctest::Approx(b * std::cos(theta) + a * std::sin(theta)).epsilon(1e-4));
      }
    }
  }
  // Position 0 is the identity, exactly.
  std::vector<float> c(d / 2), s(d / 2), x = {1, 2, 3, 4, 5, 6, 7, 8};
  reference::rope_cos_sin(0, inv, c.data(), s.data());
  reference::apply_rope(x.data(), 1, d, c.data(), s.data());
  for (int i = 0; i < d; ++i) CHECK(x[i] == static_cast<float>(i + 1));
}

TEST_CASE("kernels: llama3 rope scaling follows HF's _compute_llama3_parameters") {
  // Llama 3.1's own parameters: theta 500000, head_dim 128, factor 8, low 1, high 4, 8192.
  io::HfConfig c = rope_config(128, 500000.0f);
  c.rope.llama3_scaling = true;
  c.rope.factor = 8.0f;
  c.rope.low_freq_factor = 1.0f;
  c.rope.high_freq_factor = 4.0f;
  c.rope.original_max_position_embeddings = 8192;
  const auto inv = reference::rope_inv_freq(c);
  int kept = 0, divided = 0, smoothed = 0;
  for (int i = 0; i < 64; ++i) {
    const double f = 1.0 / std::pow(500000.0, 2.0 * i / 128);
    const double wavelen = 2 * std::numbers::pi / f;
    double want = f;
    if (wavelen < 8192.0 / 4) {
      ++kept;
    } else if (wavelen > 8192.0 / 1) {
      want = f / 8;
      ++divided;
    } else {
      const double smooth = (8192.0 / wavelen - 1) / (4 - 1);
      want = (1 - smooth) * f / 8 + smooth * f;
      ++smoothed;
    }
    CAPTURE(i);
    CHECK(inv[i] == doctest::Approx(want).epsilon(1e-5));
  }
  CHECK(kept > 0);  // all three regimes are exercised
  CHECK(divided > 0);
  CHECK(smoothed > 0);
}

TEST_CASE("kernels: RMSNorm, SwiGLU and masked softmax") {
  const float x[4] = {1, -2, 3, -4}, w[4] = {1, 0.5f, 2, 1};
  float y[4];
  reference::rms_norm(x, w, 1e-5f, 4, y);
  const double r = std::sqrt(30.0 / 4 + 1e-5);
  for (int i = 0; i < 4; ++i) CHECK(y[i] == doctest::Approx(w[i] * x[i] / r).epsilon(1e-6));

  const float g[3] = {-1, 0, 2}, u[3] = {2, 3, 0.5f};
  float o[3];
  reference::swiglu(g, u, 3, o);
  for (int i = 0; i < 3; ++i) CHECK(o[i] == doctest::Approx(g[i] / (1 + std::exp(-g[i])) * u[i]).epsilon(1e-6));

  float row[5] = {1, 2, 3, 100, -7};
  reference::masked_softmax(row, 3, 5);
  const double z = std::exp(-2.0) + std::exp(-1.0) + 1;
  CHECK(row[0] == doctest::Approx(std::exp(-2.0) / z).epsilon(1e-6));
  CHECK(row[2] == doctest::Approx(1 / z).epsilon(1e-6));
  CHECK(row[3] == 0.0f);
  CHECK(row[4] == 0.0f);
}

TEST_CASE("kernels: gemm_nt computes A . B^T") {
  const float a[6] = {1, 2, 3, 4, 5, 6};        // [2][3]
  const float b[9] = {1, 0, 0, 0, 1, 0, 1, 1, 1};  // [3][3]
  float c[6] = {};
  reference::gemm_nt(2, 3, 3, 1.0f, a, 3, b, 3, 0.0f, c, 3);
  const float want[6] = {1, 2, 6, 4, 5, 15};
  for (int i = 0; i < 6; ++i) CHECK(c[i] == want[i]);
}

TEST_CASE("kernels: exp_f32 is within 2e-7 relative of exp on -87..88") {
  double worst = 0;
  for (int i = 0; i <= 200000; ++i) {
    const double x = -87.0 + 175.0 * i / 200000;
    const double want = std::exp(x);
    worst = std::max(worst, std::abs(reference::exp_f32(static_cast<float>(x)) -
                                     std::exp(static_cast<double>(static_cast<float>(x)))) / want);
  }
  CHECK(worst < 2e-7);
  CHECK(reference::exp_f32(0.0f) == 1.0f);
  CHECK(reference::exp_f32(-INFINITY) < 1e-37f);
  CHECK(reference::exp_f32(-INFINITY) >= 0.0f);
}

TEST_CASE("kernels: NaN propagates through exp, SwiGLU and softmax") {
  CHECK(std::isnan(reference::exp_f32(NAN)));
  // One NaN among finite lanes: only its lane is NaN.
  const reference::F32x4 x = {0.0f, NAN, -1.0f, 2.0f};
  const reference::F32x4 y = reference::exp_f32x4(x);
  CHECK(y[0] == 1.0f);
  CHECK(std::isnan(y[1]));
  CHECK(std::isfinite(y[2]));
  CHECK(std::isfinite(y[3]));
  float gate[3] = {1.0f, NAN, -2.0f}, up[3] = {1.0f, 1.0f, 1.0f}, out[3];
  reference::swiglu(gate, up, 3, out);
  CHECK(std::isnan(out[1]));
  CHECK(std::isfinite(out[0]));
  // A NaN score makes its softmax row NaN instead of uniform attention.
  float row[5] = {0.5f, NAN, 1.0f, 0.0f, 7.0f};
  reference::masked_softmax(row, 4, 5);
  CHECK(std::isnan(row[0]));
  CHECK(std::isnan(row[3]));
  CHECK(row[4] == 0.0f);  // masked
}

namespace {
// Rows of every length around the vector widths, with values across exp's range, its clamps,
// signed zeros, infinities and NaN.
std::vector<std::vector<float>> awkward_rows() {
  std::vector<std::vector<float>> rows;
  for (int n : {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100}) {
    std::vector<float> r(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) r[static_cast<std::size_t>(i)] = std::sin(0.7f * static_cast<float>(i * n)) * 40.0f;
    rows.push_back(r);
  }
  std::vector<float> special = {0.0f, -0.0f, 88.5f, -90.0f, std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity(), 1e-30f, -1e-30f, 3.0f, -2.5f,
                                std::numeric_limits<float>::quiet_NaN(), 0.5f, 17.0f};
  rows.push_back(special);
  return rows;
}

// Equal to the bit, except that any NaN equals any NaN (which operand's NaN survives an
// operation follows the compiler's operand order, which differs between the widths).
bool same_bits_or_nan(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(b[i])) return false;
    if (!std::isnan(a[i]) && std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return false;
  }
  return true;
}

// rms_norm, swiglu and masked_softmax at `level` write the generic width's bits (NaN for NaN).
void check_row_kernels_match_generic(SimdLevel level) {
  for (const std::vector<float>& x : awkward_rows()) {
    const auto n = static_cast<std::int64_t>(x.size());
    std::vector<float> w(x.size()), up(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      w[i] = 0.5f + 0.01f * static_cast<float>(i);
      up[i] = std::cos(static_cast<float>(i)) * 3.0f;
    }
    std::vector<float> a(x.size()), b(x.size());
    reference::rms_norm(x.data(), w.data(), 1e-5f, n, a.data(), SimdLevel::kGeneric);
    reference::rms_norm(x.data(), w.data(), 1e-5f, n, b.data(), level);
    CHECK_MESSAGE(same_bits_or_nan(a, b), "rms_norm, n = " << n);
    reference::swiglu(x.data(), up.data(), n, a.data(), SimdLevel::kGeneric);
    reference::swiglu(x.data(), up.data(), n, b.data(), level);
    CHECK_MESSAGE(same_bits_or_nan(a, b), "swiglu, n = " << n);
    for (std::int64_t valid : {std::int64_t{1}, (n + 1) / 2, n}) {
      a = x;
      b = x;
      reference::masked_softmax(a.data(), valid, n, SimdLevel::kGeneric);
      reference::masked_softmax(b.data(), valid, n, level);
      CHECK_MESSAGE(same_bits_or_nan(a, b), "masked_softmax, n = " << n << ", valid = " << valid);
    }
  }
}
// masked_softmax as its contract spells it, one element at a time: the max, exp_f32 of each
// difference, the sum in eight partials (partial k takes the elements j + k of every whole
// group of 8, in index order; the few after the last whole group go to partial 0) combined
// as ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)), then each element times 1 / sum.
std::vector<float> softmax_as_specified(std::vector<float> row, std::int64_t valid) {
  float m = -INFINITY;
  for (std::int64_t j = 0; j < valid; ++j) m = row[static_cast<std::size_t>(j)] > m ? row[static_cast<std::size_t>(j)] : m;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const std::int64_t whole = valid / 8 * 8;
  for (std::int64_t j = 0; j < valid; ++j) {
    float& x = row[static_cast<std::size_t>(j)];
    x = reference::exp_f32(x - m);
    acc[j < whole ? j % 8 : 0] += x;
  }
  const float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  const float inv = 1.0f / sum;
  for (std::int64_t j = 0; j < static_cast<std::int64_t>(row.size()); ++j) {
    row[static_cast<std::size_t>(j)] = j < valid ? row[static_cast<std::size_t>(j)] * inv : 0.0f;
  }
  return row;
}
}  // namespace

TEST_CASE("kernels: masked_softmax writes the bits of its specified order at every width and length") {
  // Lengths around every lane count and chunk (4, 8, 16), scores over a wide range.
  for (std::int64_t n = 1; n <= 70; ++n) {
    std::vector<float> x(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) x[static_cast<std::size_t>(i)] = 7.0f * std::sin(1.7f * static_cast<float>(i) + 0.3f);
    for (std::int64_t valid : {std::int64_t{1}, (n + 1) / 2, n - n / 5, n}) {
      const std::vector<float> expected = softmax_as_specified(x, valid);
      for (SimdLevel level : {SimdLevel::kGeneric, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
        std::vector<float> got = x;
        reference::masked_softmax(got.data(), valid, n, level);  // lowered where the CPU lacks it
        CHECK_MESSAGE(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)) == 0,
                      "n = " << n << ", valid = " << valid << ", " << to_string(runnable_simd_level(level)));
      }
    }
  }
}

TEST_CASE("kernels: the row kernels at AVX2 width write the generic width's bits") {
  if (cpu_simd_level() < SimdLevel::kAvx2) return droidspeak::test::skip_test("this CPU has no AVX2");
  check_row_kernels_match_generic(SimdLevel::kAvx2);
}

TEST_CASE("kernels: the row kernels at AVX-512 width write the generic width's bits") {
  if (cpu_simd_level() < SimdLevel::kAvx512) return droidspeak::test::skip_test("this CPU has no AVX-512");
  check_row_kernels_match_generic(SimdLevel::kAvx512);
}
