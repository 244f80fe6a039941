// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file ModelWeights' tensor list and validation; random models and perturbed copies;
//! byte tokens and token-id files.
#include "droidspeak/reference/random_model.hpp"
#include "droidspeak/reference/tokenizer.hpp"
#include "droidspeak/reference/weights.hpp"
#include "reference/reference_test_util.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace droidspeak;

TEST_CASE("weights: HF names, shapes and which tensors a config uses") {
  auto c = droidspeak::test::small_config();
  c.attention_bias = true;
  c.tie_word_embeddings = true;
  auto w = reference::ModelWeights::for_config(c);
  REQUIRE(w.is_ok());
  std::vector<std::string> names, required;
  REQUIRE(for_each_tensor(*w, [&](const std::string& n, reference::Tensor&,
                                  std::span<const std::int64_t> shape, bool req) {
            names.push_back(n + " " + reference::ModelWeights::shape_string(shape));
            if (req) required.push_back(n);
            return Status::ok();
          }).is_ok());
  CHECK(names.size() == 1 + 4 * 12 + 2);
  CHECK(names.front() == "model.embed_tokens.weight [50, 64]");
  CHECK(names[2] == "model.layers.0.self_attn.q_proj.weight [64, 64]");
  CHECK(names[3] == "model.layers.0.self_attn.q_proj.bias [64]");
  CHECK(names[4] == "model.layers.0.self_attn.k_proj.weight [32, 64]");
  CHECK(names[8] == "model.layers.0.self_attn.o_proj.weight [64, 64]");
  CHECK(names[12] == "model.layers.0.mlp.down_proj.weight [64, 96]");
  CHECK(names.back() == "lm_head.weight [50, 64]");
  CHECK(required.back() == "model.norm.weight");  // tied: lm_head is not used
  c.attention_bias = false;
  auto w2 = reference::ModelWeights::for_config(c);
  REQUIRE(w2.is_ok());
  int n_req = 0;
  REQUIRE(for_each_tensor(*w2, [&](const std::string&, const reference::Tensor&,
                                   std::span<const std::int64_t>, bool req) {
            n_req += req;
            return Status::ok();
          }).is_ok());
  CHECK(n_req == 1 + 4 * 9 + 1);
}

TEST_CASE("weights: config and tensor validation name the problem") {
  auto c = droidspeak::test::small_config();
  c.num_kv_heads = 3;
  CHECK(reference::ModelWeights::for_config(c).status().message().find("not a multiple") !=
        std::string::npos);
  c = droidspeak::test::small_config();
  c.head_dim = 15;
  c.num_q_heads = 4;
  CHECK(reference::ModelWeights::for_config(c).status().code() == StatusCode::kErrorNotSupported);
  c = droidspeak::test::small_config();
  c.rms_norm_eps = 0;
  CHECK(!reference::ModelWeights::for_config(c).is_ok());

  auto w = droidspeak::test::random_model(droidspeak::test::small_config(), 1);
  CHECK(w.validate().is_ok());
  auto bad = w;
  bad.layers[1].q_bias = reference::Tensor::zeros(DType::kF32, {64});
  CHECK(bad.validate().message() ==
        "model weights: model.layers.1.self_attn.q_proj.bias is present but the config says it is not used");
  bad = w;
  bad.lm_head.dtype = DType::kFP8E4M3;
  CHECK(bad.validate().code() == StatusCode::kErrorNotSupported);
  bad = w;
  bad.embed_tokens.data.pop_back();
  CHECK(bad.validate().message().find("model.embed_tokens.weight holds") != std::string::npos);
  bad = w;
  bad.layers.pop_back();
  CHECK(bad.validate().message().find("3 layers but the config has 4") != std::string::npos);
}

TEST_CASE("random model: deterministic, dtype-aware, and perturbed only where asked") {
  const auto c = droidspeak::test::small_config();
  const auto a = droidspeak::test::random_model(c, 7);
  const auto b = droidspeak::test::random_model(c, 7);
  const auto other = droidspeak::test::random_model(c, 8);
  CHECK(a.layers[2].up_proj.data == b.layers[2].up_proj.data);
  CHECK(a.layers[2].up_proj.data != other.layers[2].up_proj.data);
  const auto h = droidspeak::test::random_model(c, 7, DType::kF16);
  CHECK(h.layers[0].q_proj.dtype == DType::kF16);
  CHECK(h.layers[0].q_proj.get(5) == to_float(to_half(a.layers[0].q_proj.get(5))));
  CHECK(reference::make_random_model(c, 1, DType::kI8).status().code() == StatusCode::kErrorNotSupported);

  auto p = reference::perturb_layers(a, layout::LayerSet::from_mask(0b0110), 0.1f, 3);
  REQUIRE(p.is_ok());
  for (std::size_t l = 0; l < 4; ++l) {
    const bool changed = l == 1 || l == 2;
    CAPTURE(l);
    CHECK((p->layers[l].q_proj.data != a.layers[l].q_proj.data) == changed);
    CHECK((p->layers[l].input_layernorm.data != a.layers[l].input_layernorm.data) == changed);
  }
  CHECK(p->embed_tokens.data == a.embed_tokens.data);
  CHECK(p->lm_head.data == a.lm_head.data);
  CHECK(p->validate().is_ok());
  // Relative size of the change is about `scale`.
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < a.layers[1].down_proj.numel(); ++i) {
    const double d = p->layers[1].down_proj.get(i) - a.layers[1].down_proj.get(i);
    num += d * d;
    den += static_cast<double>(a.layers[1].down_proj.get(i)) * a.layers[1].down_proj.get(i);
  }
  CHECK(std::sqrt(num / den) == doctest::Approx(0.1).epsilon(0.05));
  auto pe = reference::perturb_layers(a, {}, 0.1f, 3, true);
  REQUIRE(pe.is_ok());
  CHECK(pe->embed_tokens.data != a.embed_tokens.data);
  CHECK(pe->layers[0].q_proj.data == a.layers[0].q_proj.data);
  CHECK(reference::perturb_layers(a, layout::LayerSet::range(3, 5), 0.1f, 3).status().code() ==
        StatusCode::kErrorOutOfRange);
}

TEST_CASE("tokens: bytes both ways, token-id text and files") {
  const auto t = reference::byte_tokens("a\xff\n");
  CHECK(t == std::vector<std::int32_t>{97, 255, 10});
  auto s = reference::bytes_of(t);
  REQUIRE(s.is_ok());
  CHECK(*s == "a\xff\n");
  CHECK(reference::bytes_of(std::vector<std::int32_t>{1, 256}).status().message().find("token 1 is 256") !=
        std::string::npos);

  auto ids = reference::parse_token_ids(" 1 22\n\t333  0\n", 1000);
  REQUIRE(ids.is_ok());
  CHECK(*ids == std::vector<std::int32_t>{1, 22, 333, 0});
  CHECK(reference::parse_token_ids("", 10)->empty());
  CHECK(reference::parse_token_ids("1\n2\n12", 10).status().message() ==
        "token ids: line 3: \"12\" is not a token id in [0, 10)");
  CHECK(!reference::parse_token_ids("1 -2", 0).is_ok());
  CHECK(!reference::parse_token_ids("1 x", 0).is_ok());
  CHECK(!reference::parse_token_ids("99999999999", 0).is_ok());

  const std::string path = "droidspeak_token_file_test.txt";
  {
    std::ofstream f(path);
    f << "5 6\n7\n";
  }
  auto file = reference::read_token_file(path, 8);
  REQUIRE(file.is_ok());
  CHECK(*file == std::vector<std::int32_t>{5, 6, 7});
  CHECK(reference::read_token_file(path, 7).status().message().find(path + ": line 2") == 0);
  std::remove(path.c_str());
  CHECK(reference::read_token_file(path, 8).status().code() == StatusCode::kErrorIo);
}
