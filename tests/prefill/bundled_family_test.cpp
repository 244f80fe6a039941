// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file DroidSpeak's exact identities on the bundled model family (examples/models): the
//! all-layers plan is the receiver's full prefill, identical models give full prefill for
//! every plan, and reusing exactly the layers frozen during fine-tuning is exact.
#include "droidspeak/plan/compatibility.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/reference/compatibility.hpp"
#include "droidspeak/reference/engine.hpp"
#include "droidspeak/reference/hf_loader.hpp"
#include "droidspeak/reference/tokenizer.hpp"
#include "support/skip.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

using namespace droidspeak;
using droidspeak::plan::ReusePlan;
namespace fs = std::filesystem;

namespace {

fs::path models_dir() { return fs::path(__FILE__).parent_path().parent_path().parent_path() / "examples" / "models"; }

bool have(const char* name) { return fs::exists(models_dir() / name / "model.safetensors"); }

// Why a test needing the named bundled models must skip, or nothing when all are present.
std::optional<std::string> missing(std::initializer_list<const char*> names) {
  std::string absent;
  for (const char* name : names) {
    if (!have(name)) absent += std::string(absent.empty() ? "" : ", ") + name;
  }
  if (absent.empty()) return std::nullopt;
  return "bundled models " + absent + " not found under " + models_dir().string();
}

reference::Engine load(const char* name) {
  auto w = reference::load_hf_model(models_dir() / name);
  REQUIRE_MESSAGE(w.is_ok(), w.status().to_string());
  auto e = reference::Engine::create(*w);
  REQUIRE_MESSAGE(e.is_ok(), e.status().to_string());
  return std::move(e).value();
}

struct Outcome {
  std::vector<float> logits;
  std::vector<float> cache;  // every layer's KV of the n + m positions, transfer layout
};

Outcome capture(reference::Engine& r, std::int64_t positions, std::vector<float> logits) {
  const auto g = r.geometry();
  const layout::TransferLayout tl{g.num_layers, positions, g.num_kv_heads, g.head_dim, layout::HeadOrder::kNHD};
  Outcome o{std::move(logits), std::vector<float>(static_cast<std::size_t>(tl.pool_elements()))};
  const layout::KvView v(reinterpret_cast<std::byte*>(o.cache.data()), DType::kF32, tl);
  REQUIRE(layout::copy_kv({r.kv_cache(), v, layout::LayerSet::all(g.num_layers), {0, positions}, 0}).is_ok());
  return o;
}

bool same(const Outcome& a, const Outcome& b) {
  return a.logits.size() == b.logits.size() && a.cache.size() == b.cache.size() &&
         std::memcmp(a.logits.data(), b.logits.data(), a.logits.size() * 4) == 0 &&
         std::memcmp(a.cache.data(), b.cache.data(), a.cache.size() * 4) == 0;
}

const std::vector<std::int32_t> kContext = reference::byte_tokens(
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife. #include <stdio.h>\nint main(void) { return 0; }\n");
const std::vector<std::int32_t> kSuffix = reference::byte_tokens("In the beginning God created");

struct Run {
  reference::Engine& sender;
  std::vector<float> e;
  layout::ECacheLayout el;
  prefill::SenderCaches caches;
};

Run sender_run(reference::Engine& s) {
  const auto g = s.geometry();
  Run r{s, {}, {layout::LayerSet::all(g.num_layers), static_cast<std::int64_t>(kContext.size()), g.hidden_size}, {}};
  r.e.assign(static_cast<std::size_t>(r.el.pool_elements()), 0.0f);
  const layout::EView ev(reinterpret_cast<std::byte*>(r.e.data()), DType::kF32, r.el);
  REQUIRE(prefill::sender_prefill(s, kContext, ev).is_ok());
  r.caches = {s.kv_cache(), ev};
  return r;
}

Outcome partial(reference::Engine& r, const ReusePlan& p, const Run& s) {
  std::vector<float> logits(256);
  REQUIRE(prefill::partial_prefill(r, p, kContext, s.caches, kSuffix, logits).is_ok());
  return capture(r, static_cast<std::int64_t>(kContext.size() + kSuffix.size()), logits);
}

Outcome full(reference::Engine& r) {
  std::vector<float> logits(256);
  REQUIRE(prefill::full_prefill(r, kContext, kSuffix, logits).is_ok());
  return capture(r, static_cast<std::int64_t>(kContext.size() + kSuffix.size()), logits);
}

}  // namespace

TEST_CASE("bundled family: the all-layers plan equals full prefill, bit for bit") {
  if (auto why = missing({"base", "ft-code"})) return droidspeak::test::skip_test(*why);
  auto sender = load("base"), receiver = load("ft-code");
  const Run s = sender_run(sender);
  const Outcome want = full(receiver);
  CHECK(same(want, partial(receiver, ReusePlan::full_recompute(12), s)));
  // And reuse is not exact here: the identity is not vacuous.
  CHECK_FALSE(same(want, partial(receiver, ReusePlan::full_reuse(12), s)));
}

TEST_CASE("bundled family: a model reusing its own cache gets full prefill for every plan") {
  if (auto why = missing({"ft-scripture"})) return droidspeak::test::skip_test(*why);
  auto sender = load("ft-scripture"), receiver = load("ft-scripture");
  const Run s = sender_run(sender);
  const Outcome want = full(receiver);
  for (const char* p : {"none", "0-3", "5-7", "2,9-11", "11"}) {
    CAPTURE(p);
    CHECK(same(want, partial(receiver, *ReusePlan::parse(p, 12), s)));
  }
}

TEST_CASE("bundled family: reusing exactly the frozen layers is exact") {
  if (auto why = missing({"base", "frozen-code"})) return droidspeak::test::skip_test(*why);
  auto wb = reference::load_hf_model(models_dir() / "base");
  auto wf = reference::load_hf_model(models_dir() / "frozen-code");
  REQUIRE(wb.is_ok());
  REQUIRE(wf.is_ok());
  Result<plan::PairCompatibility> c = plan::check_compatibility(*reference::compatibility_record(*wb),
                                                                *reference::compatibility_record(*wf));
  REQUIRE(c.is_ok());
  CHECK(c->embeddings_identical);
  const std::int64_t k = c->identical_prefix;
  CHECK(k == 6);  // the model card: embeddings and layers 0..5 frozen
  auto sender = load("base"), receiver = load("frozen-code");
  const Run s = sender_run(sender);
  const Outcome want = full(receiver);
  CHECK(same(want, partial(receiver, *ReusePlan::create(12, {{k, 11}}), s)));
  CHECK_FALSE(same(want, partial(receiver, *ReusePlan::create(12, {{k + 1, 11}}), s)));
}

TEST_CASE("bundled family: pipelined and sequential streaming give identical caches") {
  if (auto why = missing({"base", "ft-code"})) return droidspeak::test::skip_test(*why);
  auto sender = load("base"), receiver = load("ft-code");
  const Run s = sender_run(sender);
  // Streaming needs the sender's KV in the transfer layout.
  const auto g = sender.geometry();
  const auto n = static_cast<std::int64_t>(kContext.size());
  const layout::TransferLayout tl{g.num_layers, n, g.num_kv_heads, g.head_dim, layout::HeadOrder::kNHD};
  std::vector<float> wire(static_cast<std::size_t>(tl.pool_elements()));
  const layout::KvView wire_view(reinterpret_cast<std::byte*>(wire.data()), DType::kF32, tl);
  REQUIRE(layout::copy_kv({sender.kv_cache(), wire_view, layout::LayerSet::all(g.num_layers), {0, n}, 0}).is_ok());
  const prefill::SenderCaches streamed{wire_view, s.caches.e};
  for (const char* text : {"3-5", "0-1,7-8"}) {
    CAPTURE(text);
    const ReusePlan p = *ReusePlan::parse(text, 12);
    const Outcome direct = partial(receiver, p, s);
    std::vector<Outcome> got;
    for (prefill::Overlap sched : {prefill::Overlap::kSequential, prefill::Overlap::kPipelined}) {
      prefill::InProcessTransport link;
      std::vector<float> logits(256);
      REQUIRE(prefill::streamed_partial_prefill(receiver, p, kContext, streamed, link, sched, kSuffix, logits).is_ok());
      got.push_back(capture(receiver, static_cast<std::int64_t>(kContext.size() + kSuffix.size()), logits));
    }
    CHECK(same(got[0], got[1]));
    CHECK(same(direct, got[0]));
  }
}
