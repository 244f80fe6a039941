// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Tests of reference/hf_loader.hpp: save -> load round trips (single file and
//! sharded, every dtype, Qwen2 biases, tied embeddings) and refused checkpoints.
#include "droidspeak/reference/hf_loader.hpp"

#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/random_model.hpp"
#include "io/io_test_support.hpp"
#include "reference/reference_test_util.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <limits>
#include <string>
#include <vector>

using namespace droidspeak;
using droidspeak::test::check_error;
using droidspeak::test::TempDir;

namespace {

// Every tensor slot of a and b holds the same dtype, shape and bytes.
void check_same_weights(const reference::ModelWeights& a, const reference::ModelWeights& b) {
  CHECK(a.config == b.config);
  std::vector<const reference::Tensor*> ta, tb;
  auto collect = [](std::vector<const reference::Tensor*>& out) {
    return [&out](const std::string&, const reference::Tensor& t, std::span<const std::int64_t>,
                  bool) {
      out.push_back(&t);
      return Status::ok();
    };
  };
  REQUIRE(for_each_tensor(a, collect(ta)).is_ok());
  REQUIRE(for_each_tensor(b, collect(tb)).is_ok());
  REQUIRE(ta.size() == tb.size());
  for (std::size_t i = 0; i < ta.size(); ++i) {
    CHECK(ta[i]->dtype == tb[i]->dtype);
    CHECK(ta[i]->shape == tb[i]->shape);
    CHECK(ta[i]->data == tb[i]->data);
  }
}

}  // namespace

TEST_CASE("hf_loader: save then load gives the same weights and the same logits") {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (const char* arch : {"LlamaForCausalLM", "Qwen2ForCausalLM"}) {
      CAPTURE(to_string(dtype));
      CAPTURE(arch);
      io::HfConfig c = droidspeak::test::small_config();
      c.architecture = arch;
      c.attention_bias = std::string_view(arch) == "Qwen2ForCausalLM";
      c.tie_word_embeddings = c.attention_bias;
      c.torch_dtype = "float32";
      const reference::ModelWeights w = droidspeak::test::random_model(c, 7, dtype);
      TempDir dir;
      REQUIRE(reference::save_hf_model(dir.path(), w).is_ok());
      Result<reference::ModelWeights> back = reference::load_hf_model(dir.path());
      REQUIRE_MESSAGE(back.is_ok(), back.status().to_string());
      check_same_weights(w, *back);

      reference::Engine e1 = droidspeak::test::make_engine(w);
      reference::Engine e2 = droidspeak::test::make_engine(*back);
      const auto tokens = droidspeak::test::some_tokens(9, c.vocab_size, 3);
      std::vector<float> logits[2];
      reference::Engine* engines[2] = {&e1, &e2};
      for (int k = 0; k < 2; ++k) {
        reference::Engine& e = *engines[k];
        REQUIRE(e.reserve(9).is_ok());
        std::vector<float> h(static_cast<std::size_t>(9 * c.hidden_size));
        REQUIRE(e.embed(tokens, h).is_ok());
        REQUIRE(e.run_layers(0, c.num_layers, 0, 9, h, nullptr).is_ok());
        logits[k].resize(static_cast<std::size_t>(9 * c.vocab_size));
        REQUIRE(e.logits(h, logits[k]).is_ok());
      }
      CHECK(logits[0] == logits[1]);
    }
  }
}

TEST_CASE("hf_loader: a sharded checkpoint loads like the single file") {
  const io::HfConfig c = droidspeak::test::small_config();
  const reference::ModelWeights w = droidspeak::test::random_model(c, 11, DType::kBF16);
  TempDir single, sharded;
  REQUIRE(reference::save_hf_model(single.path(), w).is_ok());
  // Split the single file's tensors over three shards.
  Result<io::SafetensorsFile> f = io::SafetensorsFile::open(single / "model.safetensors");
  REQUIRE(f.is_ok());
  std::vector<std::vector<io::RawTensorView>> shards(3);
  nlohmann::json weight_map = nlohmann::json::object();
  std::size_t i = 0;
  for (std::string_view name : f->names()) {
    const std::size_t s = i++ % 3;
    shards[s].push_back(*f->raw_tensor(name));
    weight_map[std::string(name)] = "model-0000" + std::to_string(s + 1) + "-of-00003.safetensors";
  }
  for (std::size_t s = 0; s < 3; ++s) {
    REQUIRE(io::write_safetensors(sharded / ("model-0000" + std::to_string(s + 1) + "-of-00003.safetensors"),
                                  std::span<const io::RawTensorView>(shards[s]))
                .is_ok());
  }
  droidspeak::test::write_text(sharded / "model.safetensors.index.json",
                               nlohmann::json{{"metadata", nlohmann::json::object()},
                                              {"weight_map", weight_map}}
                                   .dump());
  REQUIRE(io::write_hf_config(sharded / "config.json", c).is_ok());
  Result<reference::ModelWeights> a = reference::load_hf_model(single.path());
  Result<reference::ModelWeights> b = reference::load_hf_model(sharded.path());
  REQUIRE_MESSAGE(a.is_ok(), a.status().to_string());
  REQUIRE_MESSAGE(b.is_ok(), b.status().to_string());
  check_same_weights(*a, *b);
}

TEST_CASE("hf_loader: refused checkpoints name the file and the tensor") {
  const io::HfConfig c = droidspeak::test::small_config();
  const reference::ModelWeights w = droidspeak::test::random_model(c, 5);
  TempDir dir;
  REQUIRE(reference::save_hf_model(dir.path(), w).is_ok());
  Result<io::SafetensorsFile> f = io::SafetensorsFile::open(dir / "model.safetensors");
  REQUIRE(f.is_ok());
  std::vector<io::RawTensorView> all;
  for (std::string_view name : f->names()) all.push_back(*f->raw_tensor(name));
  TempDir out;
  REQUIRE(io::write_hf_config(out / "config.json", c).is_ok());
  auto write_with = [&](std::vector<io::RawTensorView> tensors) {
    REQUIRE(io::write_safetensors(out / "model.safetensors", std::span<const io::RawTensorView>(tensors)).is_ok());
    return reference::load_hf_model(out.path()).status();
  };

  SUBCASE("a missing tensor") {
    std::vector<io::RawTensorView> t;
    for (const auto& r : all) {
      if (r.name != "model.layers.2.mlp.up_proj.weight") t.push_back(r);
    }
    check_error(write_with(t), StatusCode::kErrorIo,
                {"model.safetensors", "\"model.layers.2.mlp.up_proj.weight\"", "missing"});
  }
  SUBCASE("a wrong shape") {
    std::vector<io::RawTensorView> t = all;
    for (auto& r : t) {
      if (r.name == "model.norm.weight") r.shape = {8, 8};
    }
    check_error(write_with(t), StatusCode::kErrorIo,
                {"model.safetensors", "\"model.norm.weight\"", "[8, 8]", "[64]"});
  }
  SUBCASE("an unsupported dtype") {
    std::vector<io::RawTensorView> t = all;
    for (auto& r : t) {
      if (r.name == "model.norm.weight") r.dtype = "I32";
    }
    check_error(write_with(t), StatusCode::kErrorNotSupported, {"\"model.norm.weight\"", "I32"});
  }
  SUBCASE("biases the engine has no slot for") {
    std::vector<io::RawTensorView> t = all;
    const std::vector<float> bias(64, 0.0f);
    t.push_back({"model.layers.0.self_attn.o_proj.bias", "F32", {64}, std::as_bytes(std::span(bias))});
    check_error(write_with(t), StatusCode::kErrorNotSupported,
                {"\"model.layers.0.self_attn.o_proj.bias\"", "no bias"});
  }
  SUBCASE("unused tensors are ignored as HF does") {
    std::vector<io::RawTensorView> t = all;
    const std::vector<float> inv(8, 1.0f);
    t.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", "F32", {8}, std::as_bytes(std::span(inv))});
    CHECK(write_with(t).is_ok());
  }
  SUBCASE("a bad config") {
    droidspeak::test::write_text(out / "config.json", "{}");
    check_error(reference::load_hf_model(out.path()).status(), StatusCode::kErrorIo, {"config.json"});
  }
}

TEST_CASE("hf_loader: a NaN in a q_proj weight is refused at load, naming the tensor") {
  // A NaN weight used to load and run: the engine's softmax turned the NaN scores into
  // uniform attention and the loss stayed finite.
  const io::HfConfig c = droidspeak::test::small_config();
  for (DType dt : {DType::kF32, DType::kBF16}) {
    CAPTURE(to_string(dt));
    reference::ModelWeights w = droidspeak::test::random_model(c, 5, dt);
    w.layers[1].q_proj.set(37, std::numeric_limits<float>::quiet_NaN());
    TempDir dir;
    REQUIRE(reference::save_hf_model(dir.path(), w).is_ok());
    check_error(reference::load_hf_model(dir.path()).status(), StatusCode::kErrorIo,
                {"model.safetensors", "\"model.layers.1.self_attn.q_proj.weight\"", "non-finite",
                 "nan", "element 37"});
  }
}

TEST_CASE("hf_loader: an infinite norm weight is refused at load, naming the tensor") {
  const io::HfConfig c = droidspeak::test::small_config();
  reference::ModelWeights w = droidspeak::test::random_model(c, 6, DType::kF16);
  w.norm.set(3, -std::numeric_limits<float>::infinity());
  TempDir dir;
  REQUIRE(reference::save_hf_model(dir.path(), w).is_ok());
  check_error(reference::load_hf_model(dir.path()).status(), StatusCode::kErrorIo,
              {"\"model.norm.weight\"", "non-finite", "-inf", "element 3"});
}
