// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Tests of io/hf_config.hpp: Llama (incl. llama3 RoPE scaling), Mistral, Qwen2 and
//! every missing or malformed field.
#include "droidspeak/io/hf_config.hpp"

#include "io/io_test_support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::io;
using droidspeak::test::check_error;
using droidspeak::test::TempDir;

namespace {

// Llama-3.2-1B's config.json, verbatim but for a few irrelevant fields.
constexpr const char* kLlama32 = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
})";

// Mistral-7B-v0.1's config.json.
constexpr const char* kMistral = R"({
  "architectures": ["MistralForCausalLM"],
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 32768,
  "model_type": "mistral",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_theta": 10000.0,
  "sliding_window": 4096,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.34.0.dev0",
  "use_cache": true,
  "vocab_size": 32000
})";

// Qwen2-0.5B's config.json.
constexpr const char* kQwen2 = R"({
  "architectures": ["Qwen2ForCausalLM"],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "hidden_act": "silu",
  "hidden_size": 896,
  "initializer_range": 0.02,
  "intermediate_size": 4864,
  "max_position_embeddings": 131072,
  "max_window_layers": 24,
  "model_type": "qwen2",
  "num_attention_heads": 14,
  "num_hidden_layers": 24,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 131072,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.40.1",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
})";

// A minimal Llama 2 style config: no head_dim, no num_key_value_heads, no rope fields.
constexpr const char* kMinimal = R"({
  "architectures": ["LlamaForCausalLM"],
  "hidden_size": 192,
  "intermediate_size": 512,
  "max_position_embeddings": 256,
  "num_attention_heads": 4,
  "num_hidden_layers": 12,
  "rms_norm_eps": 1e-06,
  "vocab_size": 256
})";

// kMinimal with one edit applied (a JSON merge patch: null removes the field).
Result<HfConfig> patched(const char* patch, const char* base = kMinimal) {
  nlohmann::json j = nlohmann::json::parse(base);
  j.merge_patch(nlohmann::json::parse(patch));
  return parse_hf_config(j.dump(), "models/x/config.json");
}

}  // namespace

TEST_CASE("hf_config: Llama 3.2 with llama3 rope scaling") {
  TempDir dir;
  droidspeak::test::write_text(dir / "config.json", kLlama32);
  Result<HfConfig> c = read_hf_config(dir / "config.json");
  REQUIRE_MESSAGE(c.is_ok(), c.status().to_string());
  CHECK(c->architecture == "LlamaForCausalLM");
  CHECK(c->hidden_size == 2048);
  CHECK(c->num_layers == 16);
  CHECK(c->num_q_heads == 32);
  CHECK(c->num_kv_heads == 8);
  CHECK(c->head_dim == 64);
  CHECK(c->intermediate_size == 8192);
  CHECK(c->vocab_size == 128256);
  CHECK(c->max_position_embeddings == 131072);
  CHECK(c->rms_norm_eps == 1e-5f);
  CHECK(c->rope.theta == 500000.0f);
  CHECK(c->rope.llama3_scaling);
  CHECK(c->rope.factor == 32.0f);
  CHECK(c->rope.low_freq_factor == 1.0f);
  CHECK(c->rope.high_freq_factor == 4.0f);
  CHECK(c->rope.original_max_position_embeddings == 8192);
  CHECK_FALSE(c->attention_bias);
  CHECK(c->tie_word_embeddings);
  CHECK(c->torch_dtype == "bfloat16");
  CHECK(c->geometry() == layout::ModelGeometry{16, 2048, 32, 8, 64});
  CHECK(c->geometry().validate().is_ok());
}

TEST_CASE("hf_config: Mistral and Qwen2") {
  Result<HfConfig> m = parse_hf_config(kMistral, "mistral/config.json");
  REQUIRE_MESSAGE(m.is_ok(), m.status().to_string());
  CHECK(m->architecture == "MistralForCausalLM");
  CHECK(m->head_dim == 128);  // hidden_size / num_attention_heads
  CHECK(m->num_kv_heads == 8);
  CHECK(m->rope.theta == 10000.0f);
  CHECK_FALSE(m->rope.llama3_scaling);
  CHECK_FALSE(m->attention_bias);
  CHECK_FALSE(m->tie_word_embeddings);

  Result<HfConfig> q = parse_hf_config(kQwen2, "qwen2/config.json");
  REQUIRE_MESSAGE(q.is_ok(), q.status().to_string());
  CHECK(q->architecture == "Qwen2ForCausalLM");
  CHECK(q->attention_bias);  // Qwen2's q/k/v projections carry biases
  CHECK(q->tie_word_embeddings);
  CHECK(q->head_dim == 64);
  CHECK(q->num_kv_heads == 2);
  CHECK(q->rms_norm_eps == 1e-6f);
  CHECK(q->rope.theta == 1000000.0f);
  CHECK(q->geometry() == layout::ModelGeometry{24, 896, 14, 2, 64});
}

TEST_CASE("hf_config: defaults") {
  Result<HfConfig> c = parse_hf_config(kMinimal, "config.json");
  REQUIRE_MESSAGE(c.is_ok(), c.status().to_string());
  CHECK(c->num_kv_heads == 4);  // = num_attention_heads
  CHECK(c->head_dim == 48);     // = hidden_size / num_attention_heads
  CHECK(c->rope.theta == 10000.0f);
  CHECK(c->rope == layout::RopeSettings{});
  CHECK_FALSE(c->attention_bias);
  CHECK_FALSE(c->tie_word_embeddings);
  CHECK(c->torch_dtype.empty());

  CHECK(patched(R"({"attention_bias": true})")->attention_bias);
  CHECK(patched(R"({"head_dim": null, "num_key_value_heads": null})")->head_dim == 48);
  CHECK(patched(R"({"rope_scaling": null})")->rope == layout::RopeSettings{});
  CHECK(patched(R"({"rope_scaling": {"rope_type": "default"}})")->rope == layout::RopeSettings{});
  CHECK(patched(R"({"dtype": "float16"})")->torch_dtype == "float16");
  // Older configs: "type" instead of "rope_type"; model_type instead of architectures.
  Result<HfConfig> t = patched(
      R"({"rope_scaling": {"type": "llama3", "factor": 8, "low_freq_factor": 1,
          "high_freq_factor": 4, "original_max_position_embeddings": 8192}})");
  REQUIRE(t.is_ok());
  CHECK(t->rope.llama3_scaling);
  CHECK(t->rope.factor == 8.0f);
  Result<HfConfig> mt = patched(R"({"architectures": null, "model_type": "qwen2"})");
  REQUIRE(mt.is_ok());
  CHECK(mt->architecture == "Qwen2ForCausalLM");
  CHECK(mt->attention_bias);
  // transformers >= 4.56 nests RoPE in rope_parameters.
  Result<HfConfig> rp = patched(
      R"({"rope_parameters": {"rope_type": "llama3", "rope_theta": 500000, "factor": 32,
          "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 8192}})");
  REQUIRE_MESSAGE(rp.is_ok(), rp.status().to_string());
  CHECK(rp->rope.theta == 500000.0f);
  CHECK(rp->rope.llama3_scaling);
  // Qwen2 with an explicit attention_bias keeps it.
  CHECK_FALSE(patched(R"({"attention_bias": false})", kQwen2)->attention_bias);
}

TEST_CASE("hf_config: a missing required field is named") {
  for (const char* field : {"hidden_size", "num_hidden_layers", "num_attention_heads",
                            "intermediate_size", "vocab_size", "max_position_embeddings",
                            "rms_norm_eps", "architectures"}) {
    CAPTURE(field);
    const std::string patch = std::string("{\"") + field + "\": null}";
    check_error(patched(patch.c_str()).status(), StatusCode::kErrorIo,
                {"models/x/config.json", "missing required field", std::string("\"") + field + "\""});
  }
  for (const char* field : {"factor", "low_freq_factor", "high_freq_factor",
                            "original_max_position_embeddings"}) {
    CAPTURE(field);
    const std::string patch = std::string(R"({"rope_scaling": {")") + field + "\": null}}";
    check_error(patched(patch.c_str(), kLlama32).status(), StatusCode::kErrorIo,
                {"models/x/config.json", std::string("\"rope_scaling.") + field + "\""});
  }
}

TEST_CASE("hf_config: malformed and unsupported configs") {
  check_error(parse_hf_config("{", "c.json").status(), StatusCode::kErrorIo, {"c.json", "not valid JSON"});
  check_error(parse_hf_config("[]", "c.json").status(), StatusCode::kErrorIo, {"c.json", "not a JSON object"});
  // A field edit of a valid config, the code it must fail with and what the message names.
  struct Bad {
    const char* patch;
    const char* base;
    StatusCode code;
    std::vector<std::string_view> substrings;
  };
  const Bad bad[] = {
      {R"({"hidden_size": "192"})", kMinimal, StatusCode::kErrorIo, {"\"hidden_size\"", "integer", "string"}},
      {R"({"hidden_size": 192.5})", kMinimal, StatusCode::kErrorIo, {"\"hidden_size\"", "integer"}},
      {R"({"num_hidden_layers": 0})", kMinimal, StatusCode::kErrorIo, {"\"num_hidden_layers\"", "positive"}},
      {R"({"num_key_value_heads": 3})", kMinimal, StatusCode::kErrorIo, {"\"num_key_value_heads\"", "divide"}},
      {R"({"hidden_size": 190})", kMinimal, StatusCode::kErrorIo, {"\"head_dim\"", "not a multiple"}},
      {R"({"rms_norm_eps": -1})", kMinimal, StatusCode::kErrorIo, {"\"rms_norm_eps\"", "positive"}},
      {R"({"tie_word_embeddings": 1})", kMinimal, StatusCode::kErrorIo, {"\"tie_word_embeddings\"", "true or false"}},
      {R"({"torch_dtype": 16})", kMinimal, StatusCode::kErrorIo, {"\"torch_dtype\"", "string"}},
      {R"({"architectures": ["GPT2LMHeadModel"]})", kMinimal, StatusCode::kErrorNotSupported, {"models/x/config.json", "GPT2LMHeadModel", "not supported"}},
      {R"({"architectures": "LlamaForCausalLM"})", kMinimal, StatusCode::kErrorIo, {"\"architectures\"", "array"}},
      {R"({"architectures": null, "model_type": "gpt2"})", kMinimal, StatusCode::kErrorNotSupported, {"gpt2"}},
      {R"({"rope_scaling": {"type": "yarn", "factor": 4}})", kMinimal, StatusCode::kErrorNotSupported, {"models/x/config.json", "\"rope_scaling\"", "yarn", "not supported"}},
      {R"({"rope_scaling": {"type": "linear", "factor": 2}})", kMinimal, StatusCode::kErrorNotSupported, {"linear"}},
      {R"({"rope_scaling": 2})", kMinimal, StatusCode::kErrorIo, {"\"rope_scaling\""}},
      {R"({"rope_scaling": {"high_freq_factor": 0.5}})", kLlama32, StatusCode::kErrorIo, {"\"rope_scaling.high_freq_factor\"", "low_freq_factor"}},
      {R"({"num_hidden_layers": 100000})", kMinimal, StatusCode::kErrorNotSupported, {"models/x/config.json", "num_layers"}},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.patch);
    check_error(patched(b.patch, b.base).status(), b.code, b.substrings);
  }
  check_error(read_hf_config("/nonexistent/config.json").status(), StatusCode::kErrorIo,
              {"/nonexistent/config.json", "not found"});
}

TEST_CASE("hf_config: hidden_act gelu is refused by name") {
  check_error(patched(R"({"hidden_act": "gelu"})").status(), StatusCode::kErrorNotSupported,
              {"models/x/config.json", "\"hidden_act\"", "gelu", "not supported"});
  check_error(patched(R"({"hidden_act": "gelu_pytorch_tanh"})").status(),
              StatusCode::kErrorNotSupported, {"\"hidden_act\"", "gelu_pytorch_tanh"});
  check_error(patched(R"({"hidden_act": 3})").status(), StatusCode::kErrorIo,
              {"\"hidden_act\"", "string"});
  CHECK(patched(R"({"hidden_act": "silu"})").is_ok());
  CHECK(patched(R"({"hidden_act": null})").is_ok());  // HF's default is silu
}

TEST_CASE("hf_config: sliding_window 8 caps the context at 8 positions") {
  // A window smaller than max_position_embeddings changes attention past the window: the
  // engine runs full attention, which is exact only up to the window, so the window becomes
  // the longest context the config admits.
  Result<HfConfig> c = patched(R"({"sliding_window": 8})");
  REQUIRE_MESSAGE(c.is_ok(), c.status().to_string());
  CHECK(c->sliding_window == 8);
  CHECK(c->max_position_embeddings == 8);
  // Mistral-7B-v0.1: a 4096 window over 32768 positions.
  Result<HfConfig> m = parse_hf_config(kMistral, "mistral/config.json");
  REQUIRE(m.is_ok());
  CHECK(m->sliding_window == 4096);
  CHECK(m->max_position_embeddings == 4096);
  check_error(patched(R"({"sliding_window": 0})").status(), StatusCode::kErrorIo,
              {"\"sliding_window\"", "positive"});
  check_error(patched(R"({"sliding_window": "8"})").status(), StatusCode::kErrorIo,
              {"\"sliding_window\"", "integer"});
}

TEST_CASE("hf_config: sliding windows that never take effect leave the context alone") {
  // Qwen2 ships a window with use_sliding_window: false.
  Result<HfConfig> q = parse_hf_config(kQwen2, "qwen2/config.json");
  REQUIRE(q.is_ok());
  CHECK(q->sliding_window == 0);
  CHECK(q->max_position_embeddings == 131072);
  Result<HfConfig> off = patched(R"({"sliding_window": 8, "use_sliding_window": false})");
  REQUIRE(off.is_ok());
  CHECK(off->sliding_window == 0);
  CHECK(off->max_position_embeddings == 256);
  // A window at least as long as every position: full attention everywhere.
  Result<HfConfig> wide = patched(R"({"sliding_window": 4096})");
  REQUIRE(wide.is_ok());
  CHECK(wide->max_position_embeddings == 256);
  CHECK(patched(R"({"sliding_window": null})")->max_position_embeddings == 256);
  check_error(patched(R"({"use_sliding_window": "no"})").status(), StatusCode::kErrorIo,
              {"\"use_sliding_window\"", "true or false"});
}

TEST_CASE("hf_config: mlp_bias true, partial_rotary_factor 0.5 and quantization_config are refused") {
  check_error(patched(R"({"mlp_bias": true})").status(), StatusCode::kErrorNotSupported,
              {"models/x/config.json", "\"mlp_bias\"", "not supported"});
  CHECK(patched(R"({"mlp_bias": false})").is_ok());
  check_error(patched(R"({"partial_rotary_factor": 0.5})").status(), StatusCode::kErrorNotSupported,
              {"models/x/config.json", "\"partial_rotary_factor\"", "not supported"});
  CHECK(patched(R"({"partial_rotary_factor": 1.0})").is_ok());
  check_error(patched(R"({"quantization_config": {"quant_method": "gptq", "bits": 4}})").status(),
              StatusCode::kErrorNotSupported,
              {"models/x/config.json", "\"quantization_config\"", "not supported"});
}

TEST_CASE("hf_config: a directory passed as config.json says it is a directory") {
  TempDir dir;
  check_error(read_hf_config(dir.path()).status(), StatusCode::kErrorIo,
              {dir.path().string(), "is a directory"});
}

TEST_CASE("hf_config: written configs read back equal") {
  TempDir dir;
  nlohmann::json windowed_json = nlohmann::json::parse(kMinimal);
  windowed_json["sliding_window"] = 8;
  const std::string windowed = windowed_json.dump();
  for (const char* text : {kLlama32, kMistral, kQwen2, kMinimal, windowed.c_str()}) {
    Result<HfConfig> c = parse_hf_config(text, "in.json");
    REQUIRE(c.is_ok());
    REQUIRE(write_hf_config(dir / "config.json", *c).is_ok());
    Result<HfConfig> back = read_hf_config(dir / "config.json");
    REQUIRE_MESSAGE(back.is_ok(), back.status().to_string());
    CHECK(*back == *c);
  }
  check_error(write_hf_config("/nonexistent/config.json", *parse_hf_config(kMinimal, "x")),
              StatusCode::kErrorIo, {"/nonexistent/config.json"});
}
