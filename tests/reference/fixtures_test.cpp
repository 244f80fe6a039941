// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The reference engine against the PyTorch fixtures of every bundled model
//! (examples/models/<name>/fixtures.safetensors, written by tools/train_family.py): logits,
//! every layer's K and V, and every layer's input hidden state, relative error <= 1e-4.
#include "droidspeak/io/safetensors.hpp"
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/transfer_layout.hpp"
#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/hf_loader.hpp"
#include "io/io_test_support.hpp"
#include "support/skip.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

using namespace droidspeak;

namespace {

constexpr double kTolerance = 1e-4;

// max |got - want| / max |want|: the error relative to the tensor's scale.
double rel_err(std::span<const float> got, std::span<const float> want) {
  double num = 0, den = 1e-30;
  for (std::size_t i = 0; i < want.size(); ++i) {
    num = std::max(num, std::abs(static_cast<double>(got[i]) - want[i]));
    den = std::max(den, std::abs(static_cast<double>(want[i])));
  }
  return num / den;
}

std::vector<float> fixture_f32(const io::SafetensorsFile& f, const std::string& name,
                               const std::vector<std::int64_t>& shape) {
  Result<io::TensorView> t = f.tensor(name);
  REQUIRE_MESSAGE(t.is_ok(), t.status().to_string());
  REQUIRE_MESSAGE(t->shape == shape, name);
  Result<std::vector<float>> v = io::to_f32_vector(*t);
  REQUIRE(v.is_ok());
  return std::move(v).value();
}

std::vector<std::filesystem::path> fixture_dirs() {
  std::vector<std::filesystem::path> out;
  for (const auto& dir : droidspeak::test::bundled_model_dirs()) {
    if (std::filesystem::exists(dir / "fixtures.safetensors")) out.push_back(dir);
  }
  return out;
}

}  // namespace

// Skipped at run time (support/skip.hpp: CTest reports SKIPPED) when the models are absent.
TEST_CASE("fixtures: the engine matches PyTorch on every bundled model") {
  const auto dirs = fixture_dirs();
  if (dirs.empty()) {
    return droidspeak::test::skip_test("no bundled model with fixtures.safetensors under " +
                                       droidspeak::test::bundled_models_dir().string());
  }
  for (const auto& dir : dirs) {
    CAPTURE(dir.string());
    Result<reference::ModelWeights> w = reference::load_hf_model(dir);
    REQUIRE_MESSAGE(w.is_ok(), w.status().to_string());
    Result<reference::Engine> created = reference::Engine::create(*w);
    REQUIRE_MESSAGE(created.is_ok(), created.status().to_string());
    reference::Engine& engine = created.value();
    Result<io::SafetensorsFile> fx = io::SafetensorsFile::open(dir / "fixtures.safetensors");
    REQUIRE_MESSAGE(fx.is_ok(), fx.status().to_string());

    const io::HfConfig& c = w->config;
    const std::int64_t L = c.num_layers, H = c.hidden_size, V = c.vocab_size,
                       kvh = c.num_kv_heads, d = c.head_dim;
    for (int i = 0; fx->contains("input_ids." + std::to_string(i)); ++i) {
      CAPTURE(i);
      const std::string si = std::to_string(i);
      Result<io::RawTensorView> ids_view = fx->raw_tensor("input_ids." + si);
      REQUIRE(ids_view.is_ok());
      Result<std::vector<std::int64_t>> ids64 = io::to_i64_vector(*ids_view);
      REQUIRE_MESSAGE(ids64.is_ok(), ids64.status().to_string());
      const std::vector<std::int32_t> tokens(ids64->begin(), ids64->end());
      const std::int64_t T = static_cast<std::int64_t>(tokens.size());

      REQUIRE(engine.reset().is_ok());
      REQUIRE(engine.reserve(T).is_ok());
      std::vector<float> hidden(static_cast<std::size_t>(T * H));
      REQUIRE(engine.embed(tokens, hidden).is_ok());
      for (std::int64_t l = 0; l < L; ++l) {
        CAPTURE(l);
        const auto want = fixture_f32(*fx, "hidden." + si + "." + std::to_string(l), {T, H});
        const double e = rel_err(hidden, want);
        CHECK_MESSAGE(e <= kTolerance, "hidden." << si << "." << l << " rel err " << e);
        REQUIRE(engine.run_layers(l, l + 1, 0, T, hidden, nullptr).is_ok());
      }
      std::vector<float> logits(static_cast<std::size_t>(T * V));
      REQUIRE(engine.logits(hidden, logits).is_ok());
      const auto want_logits = fixture_f32(*fx, "logits." + si, {T, V});
      const double le = rel_err(logits, want_logits);
      CHECK_MESSAGE(le <= kTolerance, "logits." << si << " rel err " << le);

      // The engine's paged cache, gathered into the token-major transfer layout: layer l's K
      // is [T][kv_heads][head_dim], the fixture's shape.
      layout::TransferLayout tl{L, T, kvh, d, layout::HeadOrder::kNHD};
      std::vector<float> kv(static_cast<std::size_t>(tl.pool_elements()));
      layout::KvView dst(reinterpret_cast<std::byte*>(kv.data()), DType::kF32, tl);
      REQUIRE(layout::copy_kv({engine.kv_cache(), dst, layout::LayerSet::all(L), {0, T}, 0}).is_ok());
      for (std::int64_t l = 0; l < L; ++l) {
        CAPTURE(l);
        for (auto part : {layout::KvPart::kK, layout::KvPart::kV}) {
          const bool is_k = part == layout::KvPart::kK;
          const std::string name = (is_k ? "k." : "v.") + si + "." + std::to_string(l);
          const auto want = fixture_f32(*fx, name, {T, kvh, d});
          const std::span<const float> got(kv.data() + tl.row_offset(l, part, 0, 0),
                                           static_cast<std::size_t>(T * kvh * d));
          const double e = rel_err(got, want);
          CHECK_MESSAGE(e <= kTolerance, name << " rel err " << e);
        }
      }
    }
  }
}
