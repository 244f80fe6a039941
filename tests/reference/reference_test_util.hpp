// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Shared helpers of the reference engine tests: small configs and an independent,
//! naive double-precision Llama forward pass written straight from the HF formulas.
#pragma once

#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/generate.hpp"  // prefill_tokens
#include "droidspeak/reference/random_model.hpp"
#include "support/tiny_model.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>  // std::memcmp
#include <numbers>
#include <vector>

namespace droidspeak::test {

//! 4 layers, hidden 64, 4 query heads over 2 KV heads of head_dim 16, vocab 50.
inline io::HfConfig small_config() {
  return tiny_config();
}

inline reference::ModelWeights random_model(const io::HfConfig& c, std::uint64_t seed,
                                            DType dt = DType::kF32) {
  auto w = reference::make_random_model(c, seed, dt);
  REQUIRE_MESSAGE(w.is_ok(), w.status().to_string());
  return std::move(w).value();
}

inline reference::Engine make_engine(const reference::ModelWeights& w,
                                     reference::EngineOptions o = {}) {
  auto e = reference::Engine::create(w, o);
  REQUIRE_MESSAGE(e.is_ok(), e.status().to_string());
  return std::move(e).value();
}

inline std::vector<std::int32_t> some_tokens(std::int64_t n, std::int64_t vocab, std::uint64_t seed) {
  reference::SplitMix64 g(seed);
  std::vector<std::int32_t> t(static_cast<std::size_t>(n));
  for (auto& x : t) x = static_cast<std::int32_t>(g.next() % static_cast<std::uint64_t>(vocab));
  return t;
}

//! The last position's logits `[vocab]` of a fresh engine of `w` that prefilled `seq` whole:
//! what any decoding loop's step must reproduce.
inline std::vector<float> logits_of_whole(const reference::ModelWeights& w, const std::vector<std::int32_t>& seq) {
  auto fresh = make_engine(w);
  std::vector<float> logits(static_cast<std::size_t>(fresh.vocab_size()));
  REQUIRE(reference::prefill_tokens(fresh, seq, logits).is_ok());
  return logits;
}

//! K and V of `layer` for positions [0, n), as [n][kv_heads][head_dim], read through the view.
inline std::vector<float> read_kv(reference::Engine& e, std::int64_t layer, layout::KvPart part, std::int64_t n) {
  const auto g = e.geometry();
  const layout::KvView v = e.kv_cache();
  std::vector<float> out;
  for (std::int64_t t = 0; t < n; ++t) {
    for (std::int64_t h = 0; h < g.num_kv_heads; ++h) {
      const float* row = reinterpret_cast<const float*>(v.row(layer, part, t, h));
      out.insert(out.end(), row, row + g.head_dim);
    }
  }
  return out;
}

//! Every layer's K then V for positions [0, n): read_kv of each, layer by layer.
inline std::vector<float> cache_rows(reference::Engine& e, std::int64_t n) {
  std::vector<float> out;
  for (std::int64_t l = 0; l < e.geometry().num_layers; ++l) {
    for (const layout::KvPart part : {layout::KvPart::kK, layout::KvPart::kV}) {
      const std::vector<float> rows = read_kv(e, l, part, n);
      out.insert(out.end(), rows.begin(), rows.end());
    }
  }
  return out;
}

//! Equal to the bit (NaNs included), not merely equal as floats.
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

//! max |a - b| / max(max |b|, tiny).
inline double rel_err(const std::vector<float>& a, const std::vector<double>& b) {
  double num = 0, den = 1e-30;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::abs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::abs(b[i]));
  }
  return num / den;
}
inline double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  return rel_err(a, std::vector<double>(b.begin(), b.end()));
}

//! What the naive forward produces for n tokens.
struct NaiveOut {
  std::vector<std::vector<double>> hidden;  // [L + 1][n * H]: E[0..L]
  std::vector<std::vector<double>> k, v;    // [L][n * kv_heads * head_dim], K after RoPE
  std::vector<double> logits;               // [n * V]
};

//! HF LlamaForCausalLM in double precision, every formula spelled out, no shared code with
//! the engine: inverse frequencies 1/theta^(2i/d) (llama3-rescaled when asked), rotate-half
//! RoPE, repeat_kv GQA, causal softmax, SwiGLU, RMSNorm.
inline NaiveOut naive_forward(const reference::ModelWeights& w, const std::vector<std::int32_t>& tok) {
  const io::HfConfig& c = w.config;
  const std::int64_t n = static_cast<std::int64_t>(tok.size()), H = c.hidden_size,
                     d = c.head_dim, qh = c.num_q_heads, kvh = c.num_kv_heads,
                     I = c.intermediate_size, V = c.vocab_size;
  auto at = [](const reference::Tensor& t, std::int64_t i) { return static_cast<double>(t.get(i)); };
  auto linear = [&](const std::vector<double>& x, const reference::Tensor& W, std::int64_t out,
                    std::int64_t in, const reference::Tensor* bias) {
    std::vector<double> y(static_cast<std::size_t>(n * out));
    for (std::int64_t t = 0; t < n; ++t)
      for (std::int64_t o = 0; o < out; ++o) {
        double s = bias && bias->present() ? at(*bias, o) : 0.0;
        for (std::int64_t i = 0; i < in; ++i) s += x[t * in + i] * at(W, o * in + i);
        y[t * out + o] = s;
      }
    return y;
  };
  auto norm = [&](const std::vector<double>& x, const reference::Tensor& g) {
    std::vector<double> y(x.size());
    for (std::int64_t t = 0; t < n; ++t) {
      double ss = 0;
      for (std::int64_t i = 0; i < H; ++i) ss += x[t * H + i] * x[t * H + i];
      const double r = 1.0 / std::sqrt(ss / H + c.rms_norm_eps);
      for (std::int64_t i = 0; i < H; ++i) y[t * H + i] = at(g, i) * x[t * H + i] * r;
    }
    return y;
  };
  std::vector<double> inv(static_cast<std::size_t>(d / 2));
  for (std::int64_t i = 0; i < d / 2; ++i) {
    double f = 1.0 / std::pow(static_cast<double>(c.rope.theta), 2.0 * i / d);
    if (c.rope.llama3_scaling) {
      const double old = c.rope.original_max_position_embeddings;
      const double lo = c.rope.low_freq_factor, hi = c.rope.high_freq_factor;
      const double wl = 2 * std::numbers::pi / f;
      if (wl > old / lo) {
        f /= c.rope.factor;
      } else if (wl >= old / hi) {
        const double sm = (old / wl - lo) / (hi - lo);
        f = (1 - sm) * f / c.rope.factor + sm * f;
      }
    }
    inv[static_cast<std::size_t>(i)] = f;
  }
  auto rope = [&](std::vector<double>& x, std::int64_t heads) {
    for (std::int64_t t = 0; t < n; ++t)
      for (std::int64_t hh = 0; hh < heads; ++hh) {
        double* r = &x[(t * heads + hh) * d];
        for (std::int64_t i = 0; i < d / 2; ++i) {
          const double a = t * inv[static_cast<std::size_t>(i)], x1 = r[i], x2 = r[i + d / 2];
          r[i] = x1 * std::cos(a) - x2 * std::sin(a);
          r[i + d / 2] = x2 * std::cos(a) + x1 * std::sin(a);
        }
      }
  };
  NaiveOut out;
  std::vector<double> h(static_cast<std::size_t>(n * H));
  for (std::int64_t t = 0; t < n; ++t)
    for (std::int64_t i = 0; i < H; ++i) h[t * H + i] = at(w.embed_tokens, tok[t] * H + i);
  for (const reference::LayerWeights& L : w.layers) {
    out.hidden.push_back(h);
    const auto x = norm(h, L.input_layernorm);
    auto q = linear(x, L.q_proj, qh * d, H, &L.q_bias);
    auto k = linear(x, L.k_proj, kvh * d, H, &L.k_bias);
    auto v = linear(x, L.v_proj, kvh * d, H, &L.v_bias);
    rope(q, qh);
    rope(k, kvh);
    out.k.push_back(k);
    out.v.push_back(v);
    std::vector<double> att(static_cast<std::size_t>(n * qh * d), 0.0);
    for (std::int64_t hh = 0; hh < qh; ++hh) {
      const std::int64_t g = hh / (qh / kvh);
      for (std::int64_t t = 0; t < n; ++t) {
        std::vector<double> s(static_cast<std::size_t>(t + 1));
        double m = -1e300, z = 0;
        for (std::int64_t j = 0; j <= t; ++j) {
          double dot = 0;
          for (std::int64_t i = 0; i < d; ++i) dot += q[(t * qh + hh) * d + i] * k[(j * kvh + g) * d + i];
          s[j] = dot / std::sqrt(static_cast<double>(d));
          m = std::max(m, s[j]);
        }
        for (auto& e : s) z += (e = std::exp(e - m));
        for (std::int64_t j = 0; j <= t; ++j)
          for (std::int64_t i = 0; i < d; ++i)
            att[(t * qh + hh) * d + i] += s[j] / z * v[(j * kvh + g) * d + i];
      }
    }
    const auto o = linear(att, L.o_proj, H, qh * d, nullptr);
    for (std::size_t i = 0; i < h.size(); ++i) h[i] += o[i];
    const auto x2 = norm(h, L.post_attention_layernorm);
    const auto gt = linear(x2, L.gate_proj, I, H, nullptr);
    const auto up = linear(x2, L.up_proj, I, H, nullptr);
    std::vector<double> act(gt.size());
    for (std::size_t i = 0; i < act.size(); ++i) act[i] = gt[i] / (1 + std::exp(-gt[i])) * up[i];
    const auto dn = linear(act, L.down_proj, H, I, nullptr);
    for (std::size_t i = 0; i < h.size(); ++i) h[i] += dn[i];
  }
  out.hidden.push_back(h);
  const auto f = norm(h, w.norm);
  out.logits = linear(f, c.tie_word_embeddings ? w.embed_tokens : w.lm_head, V, H, nullptr);
  return out;
}

}  // namespace droidspeak::test
