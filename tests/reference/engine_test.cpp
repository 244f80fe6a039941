// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file reference::Engine: layer splits, chunking, decoding, E capture, the independent
//! naive forward pass, and every bad-input status.
#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/random_model.hpp"
#include "reference/reference_test_util.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using namespace droidspeak;
using droidspeak::test::make_engine;
using droidspeak::test::random_model;
using droidspeak::test::small_config;
using droidspeak::test::read_kv;
using droidspeak::test::same_bits;
using droidspeak::test::some_tokens;

namespace {

std::vector<float> embed(reference::Engine& e, const std::vector<std::int32_t>& t) {
  std::vector<float> h(t.size() * static_cast<std::size_t>(e.geometry().hidden_size));
  REQUIRE(e.embed(t, h).is_ok());
  return h;
}

std::vector<float> full_run(reference::Engine& e, const std::vector<std::int32_t>& tokens) {
  REQUIRE(e.reset().is_ok());
  REQUIRE(e.reserve(static_cast<std::int64_t>(tokens.size())).is_ok());
  auto h = embed(e, tokens);
  REQUIRE(e.run_layers(0, e.geometry().num_layers, 0, static_cast<std::int64_t>(tokens.size()), h,
                       nullptr)
              .is_ok());
  return h;
}

}  // namespace

TEST_CASE("engine: models prefill::Engine and is deterministic") {
  static_assert(prefill::Engine<reference::Engine>);
  static_assert(prefill::is_deterministic<reference::Engine>());
  // What is_deterministic promises, checked: two engines on the same weights and tokens give
  // the same hidden states and KV cache, bit for bit, and so does a rerun on one engine.
  const auto w = random_model(small_config(), 3);
  const auto tokens = some_tokens(23, 50, 9);
  const std::int64_t n = static_cast<std::int64_t>(tokens.size());
  auto a = make_engine(w);
  auto b = make_engine(w);
  const auto ha = full_run(a, tokens);
  const auto hb = full_run(b, tokens);
  CHECK(same_bits(ha, hb));
  for (std::int64_t l : {std::int64_t{0}, a.geometry().num_layers - 1}) {
    CAPTURE(l);
    CHECK(same_bits(read_kv(a, l, layout::KvPart::kK, n), read_kv(b, l, layout::KvPart::kK, n)));
    CHECK(same_bits(read_kv(a, l, layout::KvPart::kV, n), read_kv(b, l, layout::KvPart::kV, n)));
  }
  CHECK(same_bits(full_run(a, tokens), ha));
}

TEST_CASE("engine: all layers at once equal layers 0..k-1 then k..L-1, bit for bit") {
  const auto w = random_model(small_config(), 1);
  const auto tokens = some_tokens(37, 50, 2);
  auto a = make_engine(w);
  const auto ha = full_run(a, tokens);
  for (std::int64_t k = 0; k <= 4; ++k) {
    CAPTURE(k);
    auto b = make_engine(w, {.page_size = 7, .num_threads = 3, .attention_tile = 128, .min_parallel_work = 1});
    REQUIRE(b.reserve(37).is_ok());
    auto hb = embed(b, tokens);
    REQUIRE(b.run_layers(0, k, 0, 37, hb, nullptr).is_ok());
    CHECK(b.num_tokens() == (k == 4 ? 37 : 0));
    REQUIRE(b.run_layers(k, 4, 0, 37, hb, nullptr).is_ok());
    CHECK(b.num_tokens() == 37);
    CHECK(same_bits(ha, hb));
    for (std::int64_t l = 0; l < 4; ++l) {
      CHECK(same_bits(read_kv(a, l, layout::KvPart::kK, 37), read_kv(b, l, layout::KvPart::kK, 37)));
      CHECK(same_bits(read_kv(a, l, layout::KvPart::kV, 37), read_kv(b, l, layout::KvPart::kV, 37)));
    }
  }
}

TEST_CASE("engine: thread count and page size do not change a single bit") {
  const auto w = random_model(small_config(), 3);
  const auto tokens = some_tokens(300, 50, 4);
  auto a = make_engine(w, {.page_size = 16, .num_threads = 1, .attention_tile = 64, .min_parallel_work = 1});
  auto b = make_engine(w, {.page_size = 5, .num_threads = 4, .attention_tile = 64, .min_parallel_work = 1});
  CHECK(same_bits(full_run(a, tokens), full_run(b, tokens)));
  // The default split threshold and one static piece per thread change nothing either.
  auto c = make_engine(w, {.page_size = 16, .num_threads = 2, .attention_tile = 64, .pieces_per_thread = 1});
  auto d = make_engine(w, {.page_size = 3, .num_threads = 3, .attention_tile = 64});
  CHECK(same_bits(full_run(a, tokens), full_run(c, tokens)));
  CHECK(same_bits(full_run(a, tokens), full_run(d, tokens)));
}

TEST_CASE("engine: the row kernels' vector width does not change a single bit") {
  const auto w = random_model(small_config(), 5);
  const auto tokens = some_tokens(300, 50, 6);
  auto generic = make_engine(w, {.simd = SimdLevel::kGeneric});
  CHECK(generic.options().simd == SimdLevel::kGeneric);
  const std::vector<float> expected = full_run(generic, tokens);
  for (SimdLevel level : {SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    auto wide = make_engine(w, {.simd = level});
    CHECK(wide.options().simd == runnable_simd_level(level));  // lowered where the CPU lacks it
    CHECK_MESSAGE(same_bits(expected, full_run(wide, tokens)), std::string(to_string(wide.options().simd)));
    const auto n = static_cast<std::int64_t>(tokens.size());
    CHECK_MESSAGE(same_bits(droidspeak::test::cache_rows(generic, n), droidspeak::test::cache_rows(wide, n)),
                  std::string(to_string(wide.options().simd)));
  }
}

TEST_CASE("engine: a split product's pieces are about a quarter of the dimension cut, at least 32") {
  CHECK(reference::product_piece_size(1) == 32);
  CHECK(reference::product_piece_size(32) == 32);  // a prompt: one piece
  CHECK(reference::product_piece_size(100) == 32);
  CHECK(reference::product_piece_size(192) == 48);  // four pieces
  CHECK(reference::product_piece_size(300) == 80);
  CHECK(reference::product_piece_size(1024) == 256);
  CHECK(reference::product_piece_size(5632) == 1408);  // a large MLP's columns: four pieces
  CHECK(reference::product_piece_size(100000) == 25008);
}

TEST_CASE("engine: attention score pieces stay within 100^3 multiply-adds, in multiples of 16 keys") {
  CHECK(reference::score_piece_columns(256, 48) == 80);  // the bundled shape's tile: 2 heads x 128 rows
  CHECK(reference::score_piece_columns(64, 48) == 320);  // a 32-token prompt
  CHECK(reference::score_piece_columns(2, 48) == 10416);  // decoding: one piece
  CHECK(reference::score_piece_columns(1024, 128) == 16);  // never fewer than 16 keys
  CHECK(reference::score_piece_columns(0, 48) == 1000000 / 16 * 16);
  for (std::int64_t m : {1, 7, 64, 256, 500}) {
    for (std::int64_t d : {32, 48, 64, 128}) {
      const std::int64_t c = reference::score_piece_columns(m, d);
      CAPTURE(m);
      CAPTURE(d);
      CHECK(c % 16 == 0);
      CHECK((c == 16 || m * c * d <= 1000000));
      CHECK(m * (c + 16) * d > 1000000);  // the most that fit
    }
  }
}

TEST_CASE("engine: prefill in chunks equals one chunk within 1e-5 (hidden) and 1e-4 (logits)") {
  const auto w = random_model(small_config(), 5);
  const auto tokens = some_tokens(200, 50, 6);
  auto one = make_engine(w);
  const auto h1 = full_run(one, tokens);
  for (std::int64_t chunk : {1, 7, 16, 64, 199}) {
    CAPTURE(chunk);
    auto e = make_engine(w);
    REQUIRE(e.reserve(200).is_ok());
    std::vector<float> all;
    for (std::int64_t b = 0; b < 200; b += chunk) {
      const std::int64_t m = std::min<std::int64_t>(chunk, 200 - b);
      std::vector<std::int32_t> part(tokens.begin() + b, tokens.begin() + b + m);
      auto h = embed(e, part);
      REQUIRE(e.run_layers(0, 4, b, m, h, nullptr).is_ok());
      all.insert(all.end(), h.begin(), h.end());
    }
    CHECK(e.num_tokens() == 200);
    CHECK(droidspeak::test::rel_err(all, h1) <= 1e-5);
    std::vector<float> l1(200 * 50), l2(200 * 50);
    REQUIRE(one.logits(h1, l1).is_ok());
    REQUIRE(e.logits(all, l2).is_ok());
    CHECK(droidspeak::test::rel_err(l2, l1) <= 1e-4);
    for (std::int64_t l = 0; l < 4; ++l) {
      CHECK(droidspeak::test::rel_err(read_kv(e, l, layout::KvPart::kK, 200),
                                      read_kv(one, l, layout::KvPart::kK, 200)) <= 1e-5);
    }
  }
}

TEST_CASE("engine: E capture equals the hidden state seen running layer by layer") {
  const auto w = random_model(small_config(), 11);
  const auto tokens = some_tokens(40, 50, 12);
  auto e = make_engine(w);
  REQUIRE(e.reserve(40).is_ok());
  const layout::LayerSet entries = layout::LayerSet::from_mask(0b1101);  // {0, 2, 3}
  layout::ECacheLayout el{entries, 40, 64};
  std::vector<float> e32(static_cast<std::size_t>(el.pool_elements()));
  std::vector<std::uint16_t> e16(e32.size());
  layout::EView c32(reinterpret_cast<std::byte*>(e32.data()), DType::kF32, el);
  layout::EView c16(reinterpret_cast<std::byte*>(e16.data()), DType::kF16, el);
  // The first 25 tokens in one call capturing f32, the last 15 in another capturing f16.
  auto h = embed(e, tokens);
  std::span<float> first(h.data(), 25 * 64), second(h.data() + 25 * 64, 15 * 64);
  REQUIRE(e.run_layers(0, 4, 0, 25, first, &c32).is_ok());
  REQUIRE(e.run_layers(0, 4, 25, 15, second, &c16).is_ok());

  auto ref = make_engine(w);
  REQUIRE(ref.reserve(40).is_ok());
  auto r = embed(ref, tokens);
  std::span<float> r1(r.data(), 25 * 64), r2(r.data() + 25 * 64, 15 * 64);
  for (std::int64_t l = 0; l < 4; ++l) {
    if (entries.contains(l)) {
      for (std::int64_t t = 0; t < 40; ++t) {
        const float* want = r.data() + t * 64;
        if (t < 25) {
          CHECK(std::memcmp(c32.row(l, t), want, 64 * 4) == 0);
        } else {
          const auto* got = reinterpret_cast<const std::uint16_t*>(c16.row(l, t));
          for (int i = 0; i < 64; ++i) CHECK(got[i] == to_half(want[i]).bits);
        }
      }
    }
    REQUIRE(ref.run_layers(l, l + 1, 0, 25, r1, nullptr).is_ok());
    REQUIRE(ref.run_layers(l, l + 1, 25, 15, r2, nullptr).is_ok());
  }
  CHECK(same_bits(h, r));
}

TEST_CASE("engine: matches an independent double-precision forward pass") {
  struct Variant {
    const char* name;
    io::HfConfig cfg;
  };
  std::vector<Variant> variants;
  variants.push_back({"llama gqa", small_config()});
  {
    auto c = small_config();
    c.architecture = "Qwen2ForCausalLM";
    c.attention_bias = true;
    c.tie_word_embeddings = true;
    c.num_kv_heads = 1;
    c.rope.theta = 1e6f;
    variants.push_back({"qwen2 bias tied mqa", c});
  }
  {
    auto c = small_config();
    c.num_kv_heads = 4;
    c.head_dim = 8;
    c.rope.theta = 500000.0f;
    c.rope.llama3_scaling = true;
    c.rope.factor = 8.0f;
    c.rope.low_freq_factor = 1.0f;
    c.rope.high_freq_factor = 4.0f;
    c.rope.original_max_position_embeddings = 64;  // puts the bands inside head_dim 8
    variants.push_back({"llama3 rope mha", c});
  }
  {
    auto c = small_config();
    c.num_layers = 2;
    c.hidden_size = 48;
    c.num_q_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 12;  // q_dim 48; head_dim not 64/...: odd shapes
    c.intermediate_size = 37;
    c.vocab_size = 257;
    variants.push_back({"odd shapes", c});
  }
  for (const Variant& v : variants) {
    CAPTURE(v.name);
    for (DType dt : {DType::kF32, DType::kBF16}) {
      const auto w = random_model(v.cfg, 13, dt);
      const auto tokens = some_tokens(33, v.cfg.vocab_size, 14);
      const auto naive = droidspeak::test::naive_forward(w, tokens);
      auto e = make_engine(w, {.page_size = 4, .num_threads = 2, .attention_tile = 8, .min_parallel_work = 1});
      REQUIRE(e.reserve(33).is_ok());
      auto h = embed(e, tokens);
      for (std::int64_t l = 0; l < v.cfg.num_layers; ++l) {
        CHECK(droidspeak::test::rel_err(h, naive.hidden[static_cast<std::size_t>(l)]) <= 1e-5);
        REQUIRE(e.run_layers(l, l + 1, 0, 33, h, nullptr).is_ok());
        CHECK(droidspeak::test::rel_err(read_kv(e, l, layout::KvPart::kK, 33),
                                        naive.k[static_cast<std::size_t>(l)]) <= 1e-5);
        CHECK(droidspeak::test::rel_err(read_kv(e, l, layout::KvPart::kV, 33),
                                        naive.v[static_cast<std::size_t>(l)]) <= 1e-5);
      }
      CHECK(droidspeak::test::rel_err(h, naive.hidden.back()) <= 1e-5);
      std::vector<float> logits(static_cast<std::size_t>(33 * v.cfg.vocab_size));
      REQUIRE(e.logits(h, logits).is_ok());
      CHECK(droidspeak::test::rel_err(logits, naive.logits) <= 1e-4);
    }
  }
}

TEST_CASE("engine: a hand-checked one-layer model (hidden 4)") {
  // One token, so attention returns V exactly (softmax over one key). Weights chosen so
  // every step can be done by hand:
  //   E = embed[1] = (1, 2, 3, 4); n1 = E / rms(E), rms = sqrt(30/4 + eps)
  //   v_proj = identity rows 0..1 -> V = (n1_0, n1_1); q/k irrelevant;
  //   o_proj maps attn (q_dim 2: the single q head uses V) to (a0, a1, 0, 0)
  //   h1 = E + (n1_0, n1_1, 0, 0)
  //   MLP: gate = up = first component of n2 -> act = silu(x) * x, down writes it to dim 3
  //   logits = lm_head . norm(h2) with lm_head = identity (vocab 4).
  io::HfConfig c{};
  c.hidden_size = 4;
  c.num_layers = 1;
  c.num_q_heads = 1;
  c.num_kv_heads = 1;
  c.head_dim = 2;
  c.intermediate_size = 1;
  c.vocab_size = 4;
  c.rms_norm_eps = 1e-6f;
  c.rope.theta = 10000.0f;
  auto wr = reference::ModelWeights::for_config(c);
  REQUIRE(wr.is_ok());
  auto w = std::move(wr).value();
  REQUIRE(for_each_tensor(w, [](const std::string&, reference::Tensor& t,
                                std::span<const std::int64_t> s, bool req) {
            if (req) t = reference::Tensor::zeros(DType::kF32, {s.begin(), s.end()});
            return Status::ok();
          }).is_ok());
  for (int i = 0; i < 4; ++i) {
    w.embed_tokens.set(1 * 4 + i, static_cast<float>(i + 1));
    w.layers[0].input_layernorm.set(i, 1.0f);
    w.layers[0].post_attention_layernorm.set(i, 1.0f);
    w.norm.set(i, 1.0f);
    w.lm_head.set(i * 4 + i, 1.0f);
  }
  auto& L = w.layers[0];
  L.v_proj.set(0 * 4 + 0, 1.0f);  // V_0 = n1_0
  L.v_proj.set(1 * 4 + 1, 1.0f);  // V_1 = n1_1
  L.o_proj.set(0 * 2 + 0, 1.0f);  // h_0 += attn_0
  L.o_proj.set(1 * 2 + 1, 1.0f);  // h_1 += attn_1
  L.gate_proj.set(0, 1.0f);       // gate = n2_0
  L.up_proj.set(0, 1.0f);         // up = n2_0
  L.down_proj.set(3, 1.0f);       // h_3 += act
  auto e = make_engine(w);
  REQUIRE(e.reserve(1).is_ok());
  std::vector<float> h(4);
  const std::int32_t tok = 1;
  REQUIRE(e.embed(std::span<const std::int32_t>(&tok, 1), h).is_ok());
  REQUIRE(e.run_layers(0, 1, 0, 1, h, nullptr).is_ok());
  const double r1 = std::sqrt(30.0 / 4 + 1e-6);
  const double h1[4] = {1 + 1 / r1, 2 + 2 / r1, 3, 4};
  const double r2 = std::sqrt((h1[0] * h1[0] + h1[1] * h1[1] + 9 + 16) / 4 + 1e-6);
  const double x = h1[0] / r2;
  const double act = x / (1 + std::exp(-x)) * x;
  const double h2[4] = {h1[0], h1[1], 3, 4 + act};
  for (int i = 0; i < 4; ++i) CHECK(h[i] == doctest::Approx(h2[i]).epsilon(1e-6));
  std::vector<float> logits(4);
  REQUIRE(e.logits(h, logits).is_ok());
  const double r3 = std::sqrt((h2[0] * h2[0] + h2[1] * h2[1] + h2[2] * h2[2] + h2[3] * h2[3]) / 4 + 1e-6);
  for (int i = 0; i < 4; ++i) CHECK(logits[i] == doctest::Approx(h2[i] / r3).epsilon(1e-6));
}

TEST_CASE("engine: growing the cache keeps every cached value") {
  const auto w = random_model(small_config(), 15);
  const auto tokens = some_tokens(50, 50, 16);
  auto a = make_engine(w, {.page_size = 4});
  auto b = make_engine(w, {.page_size = 4});
  REQUIRE(a.reserve(50).is_ok());
  REQUIRE(b.reserve(3).is_ok());
  for (std::int64_t t = 0; t < 50; ++t) {
    REQUIRE(b.reserve(t + 1).is_ok());  // grows page by page
    auto ha = embed(a, {tokens[static_cast<std::size_t>(t)]});
    auto hb = embed(b, {tokens[static_cast<std::size_t>(t)]});
    REQUIRE(a.run_layers(0, 4, t, 1, ha, nullptr).is_ok());
    REQUIRE(b.run_layers(0, 4, t, 1, hb, nullptr).is_ok());
    CHECK(same_bits(ha, hb));
  }
  CHECK(b.capacity() == 50);
  CHECK(b.kv_cache().layout.validate_host_indices().is_ok());
  for (std::int64_t l = 0; l < 4; ++l) {
    CHECK(same_bits(read_kv(a, l, layout::KvPart::kV, 50), read_kv(b, l, layout::KvPart::kV, 50)));
  }
}

TEST_CASE("engine: a NaN in a q_proj weight gives non-finite logits, not a finite answer") {
  auto w = random_model(small_config(), 11);
  reference::Tensor& q = w.layers[1].q_proj;
  REQUIRE(q.dtype == DType::kF32);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(q.data.data() + 5 * sizeof(float), &nan, sizeof nan);  // one element of head 0
  auto e = make_engine(w);
  const auto tokens = some_tokens(9, small_config().vocab_size, 3);
  const auto h = full_run(e, tokens);
  std::vector<float> logits(static_cast<std::size_t>(small_config().vocab_size));
  const std::size_t hs = static_cast<std::size_t>(small_config().hidden_size);
  REQUIRE(e.logits(std::span<const float>(h).last(hs), logits).is_ok());
  bool any_non_finite = false;
  for (float x : logits) any_non_finite = any_non_finite || !std::isfinite(x);
  CHECK(any_non_finite);
}

TEST_CASE("engine: bad input returns a status that says what was wrong") {
  const auto w = random_model(small_config(), 17);
  auto e = make_engine(w);
  auto has = [](const Status& s, StatusCode code, const char* text) {
    INFO(s.to_string());
    CHECK(s.code() == code);
    CHECK(s.message().find(text) != std::string::npos);
  };
  std::vector<float> h(3 * 64);
  const std::vector<std::int32_t> ok_tokens{1, 2, 3};
  has(e.embed(std::vector<std::int32_t>{1, 2}, h), StatusCode::kErrorInvalidArgument, "expected 2 tokens");
  has(e.embed(std::vector<std::int32_t>{1, 50, 3}, h), StatusCode::kErrorOutOfRange, "outside the vocabulary");
  has(e.embed(std::vector<std::int32_t>{-1, 0, 3}, h), StatusCode::kErrorOutOfRange, "token 0 is -1");
  REQUIRE(e.embed(ok_tokens, h).is_ok());
  has(e.run_layers(0, 4, 0, 3, h, nullptr), StatusCode::kErrorOutOfRange, "reserved capacity 0");
  has(e.reserve(-1), StatusCode::kErrorInvalidArgument, "negative");
  has(e.reserve(5000), StatusCode::kErrorOutOfRange, "max_position_embeddings");
  REQUIRE(e.reserve(10).is_ok());
  has(e.run_layers(2, 1, 0, 3, h, nullptr), StatusCode::kErrorOutOfRange, "layer range [2, 1)");
  has(e.run_layers(0, 5, 0, 3, h, nullptr), StatusCode::kErrorOutOfRange, "within [0, 4)");
  has(e.run_layers(-1, 2, 0, 3, h, nullptr), StatusCode::kErrorOutOfRange, "layer range");
  has(e.run_layers(0, 4, 8, 3, h, nullptr), StatusCode::kErrorOutOfRange, "positions [8, 11)");
  has(e.run_layers(0, 4, 0, 2, h, nullptr), StatusCode::kErrorInvalidArgument, "expected 2 tokens");
  has(e.run_layers(0, 4, -1, 3, h, nullptr), StatusCode::kErrorInvalidArgument, "negative position");
  has(e.run_layers(0, 4, 2, 3, h, nullptr), StatusCode::kErrorInvalidArgument,
      "layer 0 holds valid KV for positions [0, 0) only");
  has(e.set_num_tokens(11), StatusCode::kErrorOutOfRange, "set_num_tokens: 11");
  {
    layout::ECacheLayout el{layout::LayerSet::from_mask(1), 2, 64};
    std::vector<float> buf(static_cast<std::size_t>(el.pool_elements()));
    layout::EView cap(reinterpret_cast<std::byte*>(buf.data()), DType::kF32, el);
    has(e.run_layers(0, 4, 0, 3, h, &cap), StatusCode::kErrorOutOfRange, "capture holds 2 tokens");
    layout::ECacheLayout wrong{layout::LayerSet::from_mask(1), 3, 32};
    layout::EView cap2(reinterpret_cast<std::byte*>(buf.data()), DType::kF32, wrong);
    has(e.run_layers(0, 4, 0, 3, h, &cap2), StatusCode::kErrorInvalidArgument, "capture hidden_size 32");
    layout::EView cap3(reinterpret_cast<std::byte*>(buf.data()), DType::kI8, el);
    has(e.run_layers(0, 4, 0, 3, h, &cap3), StatusCode::kErrorNotSupported, "capture dtype int8");
  }
  CHECK(e.num_tokens() == 0);  // nothing ran
  std::vector<float> logits(3 * 50);
  has(e.logits(std::span<const float>(h.data(), 100), logits), StatusCode::kErrorInvalidArgument,
      "not a multiple of hidden_size");
  has(e.logits(h, std::span<float>(logits.data(), 149)), StatusCode::kErrorInvalidArgument,
      "expected 3 rows x 50");
  // Empty runs are valid and change nothing.
  CHECK(e.run_layers(1, 1, 0, 3, h, nullptr).is_ok());
  CHECK(e.run_layers(0, 4, 0, 0, std::span<float>(), nullptr).is_ok());
  CHECK(e.num_tokens() == 0);

  reference::Engine empty;
  has(empty.reserve(4), StatusCode::kErrorInvalidArgument, "no model");
  auto bad = w;
  bad.layers[2].k_proj.shape = {31, 64};
  has(reference::Engine::create(bad).status(), StatusCode::kErrorInvalidArgument,
      "model.layers.2.self_attn.k_proj.weight has shape [31, 64], expected [32, 64]");
  bad = w;
  bad.norm = {};
  has(reference::Engine::create(bad).status(), StatusCode::kErrorInvalidArgument,
      "model.norm.weight is missing");
  has(reference::Engine::create(w, {.page_size = 0}).status(), StatusCode::kErrorInvalidArgument,
      "page_size");
}
