// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file ModelWeights: the HF tensor list, shapes and validation.
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
