// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `droidspeak inspect`: what a checkpoint directory or a plan file holds, and what two
//! checkpoints have in common.
#pragma once

#include <cinttypes>
#include <cstdio>
#include <string>

#include "common.hpp"
#include "droidspeak/plan/plan_file.hpp"

namespace droidspeak_cli {

namespace detail {
inline std::string hex(std::uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%016" PRIx64, v);
  return b;
}

inline void print_record(const ds::plan::CompatibilityRecord& r, const char* indent) {
  const ds::layout::ModelGeometry& g = r.geometry;
  std::printf(
      "%sgeometry     %lld layers, hidden %lld, %lld q heads, %lld kv heads, head_dim %lld, vocab "
      "%lld\n",
      indent, static_cast<long long>(g.num_layers), static_cast<long long>(g.hidden_size),
      static_cast<long long>(g.num_q_heads), static_cast<long long>(g.num_kv_heads),
      static_cast<long long>(g.head_dim), static_cast<long long>(r.vocab_size));
  std::printf("%srope         theta %g%s\n", indent, r.rope.theta,
              r.rope.llama3_scaling ? ", llama3 scaling" : "");
  std::printf("%sfingerprint  embeddings %s, head %s\n", indent,
              hex(r.embedding_fingerprint).c_str(), hex(r.head_fingerprint).c_str());
  for (std::size_t l = 0; l < r.layer_fingerprints.size(); ++l) {
    if (l % 4 == 0) std::printf("%s%s", indent, l == 0 ? "layers      " : "            ");
    std::printf(" %2zu %s%s", l, hex(r.layer_fingerprints[l]).c_str(),
                l % 4 == 3 || l + 1 == r.layer_fingerprints.size() ? "\n" : "  ");
  }
}
}  // namespace detail

//! `path` a checkpoint directory (with `other` a second one: their compatibility) or a plan file.
inline Status run_inspect(const fs::path& path, const fs::path& other) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    Result<ds::reference::ModelWeights> w = load_checkpoint(path, "checkpoint");
    if (!w) return w.status();
    Result<ds::plan::CompatibilityRecord> r = ds::reference::compatibility_record(*w);
    if (!r) return r.status();
    std::int64_t params = w->embed_tokens.numel() + w->norm.numel() + w->lm_head.numel();
    DROIDSPEAK_TRY(for_each_tensor(*w, [&](const std::string& name, const ds::reference::Tensor& t,
                                           std::span<const std::int64_t>, bool) {
      if (name.rfind("model.layers.", 0) == 0) params += t.numel();
      return Status::ok();
    }));
    const ds::io::HfConfig& c = w->config;
    std::printf(
        "checkpoint %s\n  model        %s\n  parameters   %.2f M, intermediate %lld, max positions "
        "%lld\n",
        path.c_str(), describe(c).c_str(), static_cast<double>(params) / 1e6,
        static_cast<long long>(c.intermediate_size),
        static_cast<long long>(c.max_position_embeddings));
    detail::print_record(*r, "  ");
    if (other.empty()) return Status::ok();
    Result<ds::reference::ModelWeights> w2 = load_checkpoint(other, "checkpoint");
    if (!w2) return w2.status();
    Result<ds::plan::CompatibilityRecord> r2 = ds::reference::compatibility_record(*w2);
    if (!r2) return r2.status();
    Result<ds::plan::PairCompatibility> pc = ds::plan::check_compatibility(*r, *r2);
    if (!pc) return pc.status();
    std::printf("with %s (as receiver): %s\n", other.c_str(), describe(*pc).c_str());
    return Status::ok();
  }
  if (!fs::exists(path, ec))
    return Status::io_error(path.string() + ": no such checkpoint directory or plan file");
  if (!other.empty())
    return Status::invalid_argument("a second path only goes with a checkpoint directory");
  Result<ds::plan::PlanFile> f = ds::plan::read_plan_file(path);
  if (!f) return f.status();
  const ds::plan::PlanFile& p = *f;
  const std::string measure(ds::plan::to_string(p.measure));
  std::printf("plan file %s (format droidspeak-plan, version %lld)\n", path.c_str(),
              static_cast<long long>(ds::plan::PlanFile::kVersion));
  std::printf("  plan         recompute %s: %lld of %lld layers (%lld intervals), reuse %s\n",
              p.plan.to_string().c_str(), static_cast<long long>(p.plan.num_recomputed()),
              static_cast<long long>(p.plan.num_layers()),
              static_cast<long long>(p.plan.num_intervals()),
              p.plan.reused().empty() ? "nothing" : p.plan.reused().to_string().c_str());
  std::printf("  selection    %s drop <= %s, at most %lld intervals\n", measure.c_str(),
              measure == "kl" ? drop_text(p.threshold, measure).c_str()
                                : pct(p.threshold, 1).substr(1).c_str(),
              static_cast<long long>(p.max_intervals));
  std::printf("  predicted    %s drop %s, prefill %.3f of a full prefill\n", measure.c_str(),
              drop_text(p.predicted_quality_drop, measure).c_str(), p.predicted_prefill_ratio);
  std::printf(
      "  profiled     %lld samples, granularity %lld, %zu grid plans; full prefill loss %.4f, "
      "accuracy %.3f\n",
      static_cast<long long>(p.num_samples), static_cast<long long>(p.granularity), p.grid.size(),
      p.full_prefill.loss(), p.full_prefill.accuracy());
  std::printf("  frontier    ");
  for (const ds::plan::StoredPlanQuality& s : p.frontier)
    std::printf(" %s (loss %.3f)", s.plan.c_str(), s.quality.loss());
  std::printf("\n  sender:\n");
  detail::print_record(p.sender, "    ");
  std::printf("  receiver:\n");
  detail::print_record(p.receiver, "    ");
  Result<ds::plan::PairCompatibility> pc = ds::plan::check_compatibility(p.sender, p.receiver);
  if (pc) std::printf("  pair         %s\n", describe(*pc).c_str());
  return Status::ok();
}

}  // namespace droidspeak_cli
