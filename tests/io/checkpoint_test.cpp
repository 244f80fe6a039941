// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Tests of io/checkpoint.hpp: single-file and sharded model directories, their
//! errors, and the bundled model family when it is present.
#include "droidspeak/io/checkpoint.hpp"

#include "io/io_test_support.hpp"
#include "support/skip.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::io;
using droidspeak::test::check_error;
using droidspeak::test::TempDir;

namespace {

constexpr const char* kTinyConfig = R"({
  "architectures": ["LlamaForCausalLM"], "hidden_size": 8, "intermediate_size": 16,
  "max_position_embeddings": 64, "num_attention_heads": 2, "num_key_value_heads": 1,
  "num_hidden_layers": 1, "rms_norm_eps": 1e-5, "vocab_size": 4, "torch_dtype": "float32"})";

struct TinyTensors {
  std::vector<float> embed = std::vector<float>(4 * 8, 0.5f);
  std::vector<float> norm = std::vector<float>(8, 1.0f);
  std::vector<TensorView> views() const {
    return {{"model.embed_tokens.weight", DType::kF32, {4, 8}, std::as_bytes(std::span(embed))},
            {"model.norm.weight", DType::kF32, {8}, std::as_bytes(std::span(norm))}};
  }
};

}  // namespace

TEST_CASE("checkpoint: a single-file directory") {
  TempDir dir;
  droidspeak::test::write_text(dir / "config.json", kTinyConfig);
  TinyTensors t;
  const auto views = t.views();
  REQUIRE(write_safetensors(dir / "model.safetensors", std::span<const TensorView>(views)).is_ok());
  // example-begin open-checkpoint
  // A HF model directory: config.json plus model.safetensors (or its sharded index).
  Result<Checkpoint> c = open_checkpoint(dir.path());
  if (!c) {
    MESSAGE(c.status().to_string());  // names the file, the tensor and the problem
  }
  REQUIRE(c.is_ok());
  const HfConfig& config = c->config;                                 // hidden_size, heads, ...
  Result<TensorView> embed = c->tensor("model.embed_tokens.weight");  // memory-mapped
  REQUIRE(embed.is_ok());
  Result<std::vector<float>> values = to_f32_vector(*embed);  // f32/f16/bf16 -> f32
  // example-end open-checkpoint
  CHECK(config.vocab_size == 4);
  CHECK(values->size() == 32);
  CHECK(c->dir == dir.path());
  CHECK(c->config.hidden_size == 8);
  CHECK(c->config.head_dim == 4);
  CHECK(c->names() == std::vector<std::string_view>{"model.embed_tokens.weight", "model.norm.weight"});
  Result<TensorView> e = c->tensor("model.embed_tokens.weight");
  REQUIRE(e.is_ok());
  CHECK(e->shape == std::vector<std::int64_t>{4, 8});
  CHECK(c->contains("model.norm.weight"));
  check_error(c->tensor("lm_head.weight").status(), StatusCode::kErrorInvalidArgument,
              {"model.safetensors", "\"lm_head.weight\""});
}

TEST_CASE("checkpoint: a sharded directory equals the single-file one") {
  TempDir single, sharded;
  TinyTensors t;
  const auto views = t.views();
  droidspeak::test::write_text(single / "config.json", kTinyConfig);
  droidspeak::test::write_text(sharded / "config.json", kTinyConfig);
  REQUIRE(write_safetensors(single / "model.safetensors", std::span<const TensorView>(views)).is_ok());
  REQUIRE(write_safetensors(sharded / "model-00001-of-00002.safetensors", std::span<const TensorView>(views).first(1)).is_ok());
  REQUIRE(write_safetensors(sharded / "model-00002-of-00002.safetensors", std::span<const TensorView>(views).last(1)).is_ok());
  droidspeak::test::write_text(sharded / "model.safetensors.index.json", R"({"weight_map": {
      "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
      "model.norm.weight": "model-00002-of-00002.safetensors"}})");
  Result<Checkpoint> a = open_checkpoint(single.path());
  Result<Checkpoint> b = open_checkpoint(sharded.path());
  REQUIRE_MESSAGE(a.is_ok(), a.status().to_string());
  REQUIRE_MESSAGE(b.is_ok(), b.status().to_string());
  CHECK(a->config == b->config);
  CHECK(b->tensors.shards().size() == 2);
  REQUIRE(a->names() == b->names());
  for (std::string_view name : a->names()) {
    const TensorView x = *a->tensor(name);
    const TensorView y = *b->tensor(name);
    CHECK(x.dtype == y.dtype);
    CHECK(x.shape == y.shape);
    CHECK(std::equal(x.data.begin(), x.data.end(), y.data.begin(), y.data.end()));
  }
}

TEST_CASE("checkpoint: errors name the file") {
  TempDir dir;
  check_error(open_checkpoint(dir.path()).status(), StatusCode::kErrorIo, {"config.json", "not found"});
  droidspeak::test::write_text(dir / "config.json", kTinyConfig);
  check_error(open_checkpoint(dir.path()).status(), StatusCode::kErrorIo,
              {dir.path().string(), "neither model.safetensors nor model.safetensors.index.json"});
  droidspeak::test::write_bytes(dir / "model.safetensors", droidspeak::test::raw_safetensors(64, "{}"));
  check_error(open_checkpoint(dir.path()).status(), StatusCode::kErrorIo,
              {"model.safetensors", "past the end"});
  droidspeak::test::write_text(dir / "config.json", R"({"architectures": ["LlamaForCausalLM"]})");
  check_error(open_checkpoint(dir.path()).status(), StatusCode::kErrorIo,
              {"config.json", "missing required field \"hidden_size\""});
}

// The family tools/train_family.py trains: 12 layers, hidden 192, 4 query / 2 KV heads,
// head_dim 48, SwiGLU 512, vocabulary 256, untied LM head, f16 weights.
// Skipped at run time (support/skip.hpp: CTest reports SKIPPED) when the models are absent.
TEST_CASE("checkpoint: the bundled models open and hold every HF tensor") {
  const auto dirs = droidspeak::test::bundled_model_dirs();
  if (dirs.empty()) {
    return droidspeak::test::skip_test("no bundled models under " +
                                       droidspeak::test::bundled_models_dir().string());
  }
  for (const auto& dir : dirs) {
    CAPTURE(dir.string());
    Result<Checkpoint> c = open_checkpoint(dir);
    REQUIRE_MESSAGE(c.is_ok(), c.status().to_string());
    const HfConfig& cfg = c->config;
    CHECK(cfg.architecture == "LlamaForCausalLM");
    CHECK(cfg.geometry() == layout::ModelGeometry{12, 192, 4, 2, 48});
    CHECK(cfg.intermediate_size == 512);
    CHECK(cfg.vocab_size == 256);
    CHECK_FALSE(cfg.tie_word_embeddings);
    CHECK_FALSE(cfg.attention_bias);
    const std::int64_t h = cfg.hidden_size, q = cfg.num_q_heads * cfg.head_dim,
                       k = cfg.num_kv_heads * cfg.head_dim, in = cfg.intermediate_size;
    std::vector<std::pair<std::string, std::vector<std::int64_t>>> expected = {
        {"model.embed_tokens.weight", {cfg.vocab_size, h}},
        {"model.norm.weight", {h}},
        {"lm_head.weight", {cfg.vocab_size, h}}};
    for (std::int64_t l = 0; l < cfg.num_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      expected.push_back({p + "input_layernorm.weight", {h}});
      expected.push_back({p + "post_attention_layernorm.weight", {h}});
      expected.push_back({p + "self_attn.q_proj.weight", {q, h}});
      expected.push_back({p + "self_attn.k_proj.weight", {k, h}});
      expected.push_back({p + "self_attn.v_proj.weight", {k, h}});
      expected.push_back({p + "self_attn.o_proj.weight", {h, q}});
      expected.push_back({p + "mlp.gate_proj.weight", {in, h}});
      expected.push_back({p + "mlp.up_proj.weight", {in, h}});
      expected.push_back({p + "mlp.down_proj.weight", {h, in}});
    }
    CHECK(c->names().size() == expected.size());
    for (const auto& [name, shape] : expected) {
      CAPTURE(name);
      Result<TensorView> t = c->tensor(name);
      REQUIRE_MESSAGE(t.is_ok(), t.status().to_string());
      CHECK(t->dtype == DType::kF16);
      CHECK(t->shape == shape);
    }
    const auto fixtures = dir / "fixtures.safetensors";
    if (std::filesystem::exists(fixtures)) {
      Result<SafetensorsFile> f = SafetensorsFile::open(fixtures);
      REQUIRE_MESSAGE(f.is_ok(), f.status().to_string());
      Result<RawTensorView> ids = f->raw_tensor("input_ids.0");
      REQUIRE_MESSAGE(ids.is_ok(), ids.status().to_string());
      CHECK(ids->dtype == "I32");
      Result<TensorView> logits = f->tensor("logits.0");
      REQUIRE(logits.is_ok());
      CHECK(logits->shape == std::vector<std::int64_t>{ids->numel(), cfg.vocab_size});
    }
  }
}
