// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `HfConfig`: the HuggingFace `config.json` of a Llama-family checkpoint
//! (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM), read and validated.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/io/detail/json.hpp"  // parse_json, json_to_i64, read_text_file
#include "droidspeak/layout/geometry.hpp"
#include "droidspeak/layout/rope.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>  // std::ofstream: write_hf_config
#include <string>
#include <string_view>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace io {

//! The fields of a HF `config.json` the reference engine needs, with HF's defaults applied.
//!
//! Bias convention: `attention_bias` defaults to true for Qwen2ForCausalLM (its q/k/v
//! projections carry biases, its o_proj does not) and to false for Llama/Mistral, where a
//! true `attention_bias` field means q/k/v/o all carry biases (HF's LlamaAttention).
//!
//! Sliding-window attention: the engine attends over the full context, which equals a
//! window of W tokens for every context of at most W tokens. A window in effect
//! (`sliding_window` set and `use_sliding_window` not false) therefore lowers
//! `max_position_embeddings` to W, so longer contexts are refused instead of run with the
//! wrong attention. Mistral-7B-v0.1 (W = 4096) runs contexts up to 4096 tokens exactly.
struct HfConfig {
  std::string architecture;  //!< "LlamaForCausalLM", "MistralForCausalLM" or "Qwen2ForCausalLM"
  std::int64_t hidden_size = 0;
  std::int64_t num_layers = 0;    //!< num_hidden_layers
  std::int64_t num_q_heads = 0;   //!< num_attention_heads
  std::int64_t num_kv_heads = 0;  //!< num_key_value_heads (default: num_attention_heads)
  std::int64_t head_dim = 0;      //!< head_dim (default: hidden_size / num_attention_heads)
  std::int64_t intermediate_size = 0;
  std::int64_t vocab_size = 0;
  //! The longest context the engine computes exactly: the file's max_position_embeddings,
  //! lowered to `sliding_window` when that is smaller.
  std::int64_t max_position_embeddings = 0;
  //! The attention window in effect (HF `sliding_window`); 0 when there is none, or it is
  //! disabled (`use_sliding_window: false`, as Qwen2 configs ship).
  std::int64_t sliding_window = 0;
  float rms_norm_eps = 0;
  //! rope_theta (default 10000) and `rope_scaling` (null or absent: none).
  layout::RopeSettings rope;
  bool attention_bias = false;
  bool tie_word_embeddings = false;  //!< default false: lm_head.weight is its own tensor
  std::string torch_dtype;           //!< "float16", "bfloat16", ...; empty when absent

  //! Layers, hidden size and heads as the cache layouts see them.
  layout::ModelGeometry geometry() const {
    return {num_layers, hidden_size, num_q_heads, num_kv_heads, head_dim};
  }

  friend bool operator==(const HfConfig&, const HfConfig&) = default;
};

//! The architectures `read_hf_config` accepts.
inline constexpr std::array<std::string_view, 3> kSupportedArchitectures = {
    "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"};

namespace detail {

// Field readers: each returns ok with `out` untouched when the field is absent (or null)
// and `required` is false. Messages are "<file>: field "<name>" ...".
class ConfigFields {
 public:
  ConfigFields(const Json& root, std::string_view file) : root_(root), file_(file) {}

  Status missing(std::string_view name) const {
    return Status::io_error(std::string(file_) + ": missing required field \"" +
                            std::string(name) + "\"");
  }
  Status wrong(std::string_view name, std::string_view expected, const Json& v) const {
    return Status::io_error(std::string(file_) + ": field \"" + std::string(name) +
                            "\" must be " + std::string(expected) + ", got " +
                            json_type_name(v));
  }
  Status bad_value(std::string_view name, const std::string& what) const {
    return Status::io_error(std::string(file_) + ": field \"" + std::string(name) + "\" " + what);
  }

  const Json* find(const Json& obj, std::string_view name) const {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }

  Status positive_int(const Json& obj, std::string_view name, std::string_view full_name,
                      bool required, std::int64_t& out) const {
    const Json* v = find(obj, name);
    if (v == nullptr) return required ? missing(full_name) : Status::ok();
    std::int64_t x = 0;
    if (!json_to_i64(*v, x)) return wrong(full_name, "an integer", *v);
    if (x <= 0) return bad_value(full_name, "must be positive, got " + std::to_string(x));
    out = x;
    return Status::ok();
  }
  Status positive_int(std::string_view name, bool required, std::int64_t& out) const {
    return positive_int(root_, name, name, required, out);
  }

  template <class Float>
  Status positive_float(const Json& obj, std::string_view name, std::string_view full_name,
                        bool required, Float& out) const {
    const Json* v = find(obj, name);
    if (v == nullptr) return required ? missing(full_name) : Status::ok();
    double x = 0;
    if (!json_to_double(*v, x)) return wrong(full_name, "a finite number", *v);
    if (!(x > 0)) return bad_value(full_name, "must be positive, got " + std::to_string(x));
    out = static_cast<Float>(x);
    return Status::ok();
  }
  template <class Float>
  Status positive_float(std::string_view name, bool required, Float& out) const {
    return positive_float(root_, name, name, required, out);
  }

  Status boolean(std::string_view name, bool& out) const {
    const Json* v = find(root_, name);
    if (v == nullptr) return Status::ok();
    if (!v->is_boolean()) return wrong(name, "true or false", *v);
    out = v->get<bool>();
    return Status::ok();
  }

  Status string(const Json& obj, std::string_view name, std::string_view full_name,
                std::string& out) const {
    const Json* v = find(obj, name);
    if (v == nullptr) return Status::ok();
    if (!v->is_string()) return wrong(full_name, "a string", *v);
    out = v->get<std::string>();
    return Status::ok();
  }

  const Json& root() const { return root_; }
  std::string_view file() const { return file_; }

 private:
  const Json& root_;
  std::string_view file_;
};

inline Status read_architecture(const ConfigFields& f, std::string& out) {
  const Json* archs = f.find(f.root(), "architectures");
  if (archs != nullptr) {
    if (!archs->is_array()) return f.wrong("architectures", "an array of strings", *archs);
    std::string seen;
    for (const Json& a : *archs) {
      if (!a.is_string()) return f.wrong("architectures", "an array of strings", a);
      const auto& name = a.get_ref<const std::string&>();
      for (std::string_view s : kSupportedArchitectures) {
        if (name == s) {
          out = name;
          return Status::ok();
        }
      }
      seen += (seen.empty() ? "" : ", ") + name;
    }
    return Status::not_supported(std::string(f.file()) + ": architectures [" + seen +
                                 "] are not supported (supported: LlamaForCausalLM, "
                                 "MistralForCausalLM, Qwen2ForCausalLM)");
  }
  // Older configs name only the model_type.
  std::string model_type;
  DROIDSPEAK_TRY(f.string(f.root(), "model_type", "model_type", model_type));
  if (model_type == "llama") out = "LlamaForCausalLM";
  if (model_type == "mistral") out = "MistralForCausalLM";
  if (model_type == "qwen2") out = "Qwen2ForCausalLM";
  if (!out.empty()) return Status::ok();
  if (model_type.empty()) return f.missing("architectures");
  return Status::not_supported(std::string(f.file()) + ": model_type \"" + model_type +
                               "\" is not supported (supported: llama, mistral, qwen2)");
}

inline Status read_rope_scaling(const ConfigFields& f, const Json& rs, std::string_view field,
                                layout::RopeSettings& out) {
  if (!rs.is_object()) return f.wrong(field, "an object or null", rs);
  std::string type;
  const std::string type_field = std::string(field) + ".rope_type";
  DROIDSPEAK_TRY(f.string(rs, "rope_type", type_field, type));
  if (type.empty()) DROIDSPEAK_TRY(f.string(rs, "type", std::string(field) + ".type", type));
  if (type.empty() || type == "default") return Status::ok();
  if (type != "llama3") {
    return Status::not_supported(std::string(f.file()) + ": field \"" + std::string(field) +
                                 "\": rope type \"" + type +
                                 "\" is not supported (supported: llama3, default)");
  }
  const std::string p = std::string(field) + ".";
  layout::RopeSettings r;
  r.theta = out.theta;
  r.llama3_scaling = true;
  DROIDSPEAK_TRY(f.positive_float(rs, "factor", p + "factor", true, r.factor));
  DROIDSPEAK_TRY(
      f.positive_float(rs, "low_freq_factor", p + "low_freq_factor", true, r.low_freq_factor));
  DROIDSPEAK_TRY(
      f.positive_float(rs, "high_freq_factor", p + "high_freq_factor", true, r.high_freq_factor));
  DROIDSPEAK_TRY(f.positive_int(rs, "original_max_position_embeddings",
                                p + "original_max_position_embeddings", true,
                                r.original_max_position_embeddings));
  if (!(r.high_freq_factor > r.low_freq_factor)) {
    return f.bad_value(p + "high_freq_factor",
                       "must exceed low_freq_factor (" + std::to_string(r.low_freq_factor) +
                           "), got " + std::to_string(r.high_freq_factor));
  }
  out = r;
  return Status::ok();
}

// Fields that change the math of a Llama-family model in ways the engine does not
// implement: refused by name rather than ignored (ignoring them runs a different model).
inline Status refuse_unsupported_fields(const ConfigFields& f) {
  const std::string file(f.file());
  std::string act = "silu";  // HF's default for all three architectures
  DROIDSPEAK_TRY(f.string(f.root(), "hidden_act", "hidden_act", act));
  if (act != "silu") {
    return Status::not_supported(file + ": field \"hidden_act\": activation \"" + act +
                                 "\" is not supported (the engine's MLP is SiLU-gated; "
                                 "supported: silu)");
  }
  bool mlp_bias = false;
  DROIDSPEAK_TRY(f.boolean("mlp_bias", mlp_bias));
  if (mlp_bias) {
    return Status::not_supported(file + ": field \"mlp_bias\": true is not supported (the "
                                 "engine's MLP has no biases)");
  }
  if (const Json* p = f.find(f.root(), "partial_rotary_factor")) {
    double x = 0;
    if (!json_to_double(*p, x)) return f.wrong("partial_rotary_factor", "a finite number", *p);
    if (x != 1.0) {
      return Status::not_supported(file + ": field \"partial_rotary_factor\": " +
                                   std::to_string(x) +
                                   " is not supported (the engine rotates the whole head)");
    }
  }
  if (f.find(f.root(), "quantization_config") != nullptr) {
    return Status::not_supported(file + ": field \"quantization_config\": quantized "
                                 "checkpoints are not supported (weights must be f32, f16 "
                                 "or bf16)");
  }
  return Status::ok();
}

// The window in effect, 0 for none: `sliding_window` unless null, absent or switched off by
// `use_sliding_window: false` (Qwen2's configs carry a window they do not use).
inline Status read_sliding_window(const ConfigFields& f, std::int64_t& out) {
  out = 0;
  bool use = true;
  DROIDSPEAK_TRY(f.boolean("use_sliding_window", use));
  std::int64_t w = 0;
  DROIDSPEAK_TRY(f.positive_int("sliding_window", false, w));
  if (use) out = w;
  return Status::ok();
}

}  // namespace detail

//! Parses the text of a `config.json`.
//! @param[in] text       the file's contents.
//! @param[in] file_name  how messages name the file.
//! @return the config, or: kErrorIo when the text is not a JSON object, a required field
//!   (hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, vocab_size,
//!   max_position_embeddings, rms_norm_eps, and architectures or model_type) is missing, or a
//!   field has the wrong type or an impossible value; kErrorNotSupported for another
//!   architecture, a rope scaling other than llama3, or a field that changes the math in a
//!   way the engine does not implement (`hidden_act` other than silu, `mlp_bias: true`,
//!   `partial_rotary_factor` other than 1, `quantization_config`). Messages name the file
//!   and the field. A sliding window in effect lowers max_position_embeddings (see HfConfig).
inline Result<HfConfig> parse_hf_config(std::string_view text, std::string_view file_name) {
  const detail::Json root = detail::parse_json(text);
  const std::string file(file_name);
  if (root.is_discarded()) return Status::io_error(file + ": not valid JSON");
  if (!root.is_object()) return Status::io_error(file + ": top level is not a JSON object");
  const detail::ConfigFields f(root, file);

  HfConfig c;
  DROIDSPEAK_TRY(detail::read_architecture(f, c.architecture));
  DROIDSPEAK_TRY(f.positive_int("hidden_size", true, c.hidden_size));
  DROIDSPEAK_TRY(f.positive_int("num_hidden_layers", true, c.num_layers));
  DROIDSPEAK_TRY(f.positive_int("num_attention_heads", true, c.num_q_heads));
  c.num_kv_heads = c.num_q_heads;
  DROIDSPEAK_TRY(f.positive_int("num_key_value_heads", false, c.num_kv_heads));
  c.head_dim = 0;
  DROIDSPEAK_TRY(f.positive_int("head_dim", false, c.head_dim));
  if (c.head_dim == 0) {
    if (c.hidden_size % c.num_q_heads != 0) {
      return Status::io_error(file + ": field \"head_dim\" is absent and hidden_size " +
                              std::to_string(c.hidden_size) +
                              " is not a multiple of num_attention_heads " +
                              std::to_string(c.num_q_heads));
    }
    c.head_dim = c.hidden_size / c.num_q_heads;
  }
  DROIDSPEAK_TRY(f.positive_int("intermediate_size", true, c.intermediate_size));
  DROIDSPEAK_TRY(f.positive_int("vocab_size", true, c.vocab_size));
  DROIDSPEAK_TRY(f.positive_int("max_position_embeddings", true, c.max_position_embeddings));
  DROIDSPEAK_TRY(f.positive_float("rms_norm_eps", true, c.rms_norm_eps));
  DROIDSPEAK_TRY(detail::refuse_unsupported_fields(f));
  DROIDSPEAK_TRY(detail::read_sliding_window(f, c.sliding_window));
  if (c.sliding_window > 0 && c.sliding_window < c.max_position_embeddings) {
    c.max_position_embeddings = c.sliding_window;
  }

  // RoPE: transformers >= 4.56 may nest theta and scaling in "rope_parameters".
  const detail::Json* rope_params = f.find(root, "rope_parameters");
  if (rope_params != nullptr) {
    if (!rope_params->is_object()) return f.wrong("rope_parameters", "an object", *rope_params);
    DROIDSPEAK_TRY(f.positive_float(*rope_params, "rope_theta", "rope_parameters.rope_theta",
                                    false, c.rope.theta));
    DROIDSPEAK_TRY(detail::read_rope_scaling(f, *rope_params, "rope_parameters", c.rope));
  }
  DROIDSPEAK_TRY(f.positive_float("rope_theta", false, c.rope.theta));
  if (const detail::Json* rs = f.find(root, "rope_scaling")) {
    DROIDSPEAK_TRY(detail::read_rope_scaling(f, *rs, "rope_scaling", c.rope));
  }

  c.attention_bias = c.architecture == "Qwen2ForCausalLM";  // Qwen2's q/k/v always have biases
  DROIDSPEAK_TRY(f.boolean("attention_bias", c.attention_bias));
  DROIDSPEAK_TRY(f.boolean("tie_word_embeddings", c.tie_word_embeddings));
  DROIDSPEAK_TRY(f.string(root, "torch_dtype", "torch_dtype", c.torch_dtype));
  if (c.torch_dtype.empty()) DROIDSPEAK_TRY(f.string(root, "dtype", "dtype", c.torch_dtype));

  if (c.num_q_heads % c.num_kv_heads != 0) {
    return Status::io_error(file + ": field \"num_key_value_heads\" (" +
                            std::to_string(c.num_kv_heads) +
                            ") must divide num_attention_heads (" +
                            std::to_string(c.num_q_heads) + ")");
  }
  DROIDSPEAK_TRY(c.geometry().validate().with_context(file));
  return c;
}

//! Reads and validates a HF `config.json`; see `parse_hf_config` for the errors. A file that
//! cannot be read gives kErrorIo naming it.
inline Result<HfConfig> read_hf_config(const std::filesystem::path& config_json) {
  std::string text;
  DROIDSPEAK_TRY(detail::read_text_file(config_json, text));
  return parse_hf_config(text, config_json.string());
}

//! The config as HF `config.json` text (2-space indent): every field `parse_hf_config` reads,
//! `model_type` from the architecture, and `rope_scaling` null or llama3. Parsing the text
//! gives back an equal config.
inline std::string hf_config_json(const HfConfig& c) {
  detail::Json j = detail::Json::object();
  j["architectures"] = detail::Json::array({c.architecture});
  const std::string_view a = c.architecture;
  j["model_type"] = a == "Qwen2ForCausalLM" ? "qwen2" : (a == "MistralForCausalLM" ? "mistral" : "llama");
  j["hidden_size"] = c.hidden_size;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_q_heads;
  j["num_key_value_heads"] = c.num_kv_heads;
  j["head_dim"] = c.head_dim;
  j["intermediate_size"] = c.intermediate_size;
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.max_position_embeddings;
  if (c.sliding_window > 0) j["sliding_window"] = c.sliding_window;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope.theta;
  if (c.rope.llama3_scaling) {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", c.rope.factor},
                         {"low_freq_factor", c.rope.low_freq_factor},
                         {"high_freq_factor", c.rope.high_freq_factor},
                         {"original_max_position_embeddings",
                          c.rope.original_max_position_embeddings}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["attention_bias"] = c.attention_bias;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["hidden_act"] = "silu";
  if (!c.torch_dtype.empty()) j["torch_dtype"] = c.torch_dtype;
  return j.dump(2, ' ', false, detail::Json::error_handler_t::replace) + "\n";
}

//! Writes `hf_config_json(c)` to `path`. kErrorIo naming the path when writing fails.
inline Status write_hf_config(const std::filesystem::path& path, const HfConfig& c) {
  const std::string text = hf_config_json(c);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.flush();
  if (!out) return Status::io_error(path.string() + ": cannot write");
  return Status::ok();
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::io
