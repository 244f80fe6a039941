// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The plan file: a versioned JSON document holding a reuse plan, the compatibility
//! records of the pair it was made for, the profiling data it came from, and its predicted
//! quality and cost. Loading validates everything; a plan for another pair is refused.
//! A run artefact of plan/, kept out of io/ (which holds model files only); it needs
//! nlohmann_json, so link droidspeak::io to use it.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/io/detail/json.hpp"
#include "droidspeak/io/output_file.hpp"
#include "droidspeak/plan/compatibility.hpp"
#include "droidspeak/plan/guard_thresholds.hpp"
#include "droidspeak/plan/profile_cost.hpp"
#include "droidspeak/plan/quality_measure.hpp"
#include "droidspeak/plan/reuse_plan.hpp"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace plan {

//! One profiled plan as stored: the plan in ReusePlan::parse syntax and its summed metrics.
struct StoredPlanQuality {
  std::string plan;
  QualityMetrics quality;
};

//! Everything a plan file holds.
struct PlanFile {
  static constexpr std::int64_t kVersion = 1;
  plan::ReusePlan plan;
  plan::CompatibilityRecord sender;
  plan::CompatibilityRecord receiver;
  QualityMeasure measure = QualityMeasure::kLoss;  //!< what quality_drop is
  double threshold = 0.05;             //!< the selection threshold: finite, >= 0
  std::int64_t max_intervals = 1;
  double predicted_quality_drop = 0.0;  //!< of `plan`, on the profiling samples
  double predicted_prefill_ratio = -1.0;  //!< predicted time / full prefill; < 0: not predicted
  // Profiling data.
  std::int64_t granularity = 1;
  std::int64_t num_samples = 0;
  QualityMetrics full_prefill;
  std::vector<StoredPlanQuality> grid;  //!< never empty
  std::vector<StoredPlanQuality> frontier;
  std::int64_t profile_context_layer_token_passes = 0;
  std::int64_t exhaustive_context_layer_token_passes = 0;
  //! What the profile cost, every pass counted and timed, and what the exhaustive sweep it
  //! replaces would cost (counted, not timed). Absent in files written before they were stored.
  std::optional<ProfileCost> profile_cost;
  std::optional<ProfileCost> exhaustive_cost;
  //! The measure the profiler pruned plans for (loss or KL; their grid entries are left out);
  //! absent: every grid plan was measured on every sample.
  std::optional<QualityMeasure> pruned_for;
  //! The guard's calibration for `plan` on the profiling samples; absent in files written
  //! before it was stored, and for plans that reuse no layer (nothing to check).
  std::optional<GuardThresholds> guard;
};

namespace detail {

using io::detail::Json;

inline std::string hex64(std::uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, v);
  return buf;
}

inline Json record_json(const plan::CompatibilityRecord& r) {
  Json j = Json::object();
  j["architecture"] = r.architecture;
  j["rms_norm_eps"] = r.rms_norm_eps;
  j["num_layers"] = r.geometry.num_layers;
  j["hidden_size"] = r.geometry.hidden_size;
  j["num_q_heads"] = r.geometry.num_q_heads;
  j["num_kv_heads"] = r.geometry.num_kv_heads;
  j["head_dim"] = r.geometry.head_dim;
  j["vocab_size"] = r.vocab_size;
  j["rope_theta"] = r.rope.theta;
  j["rope_llama3"] = r.rope.llama3_scaling;
  j["rope_factor"] = r.rope.factor;
  j["rope_low_freq_factor"] = r.rope.low_freq_factor;
  j["rope_high_freq_factor"] = r.rope.high_freq_factor;
  j["rope_original_max_position_embeddings"] = r.rope.original_max_position_embeddings;
  j["embedding_fingerprint"] = hex64(r.embedding_fingerprint);
  j["head_fingerprint"] = hex64(r.head_fingerprint);
  Json layers = Json::array();
  for (std::uint64_t f : r.layer_fingerprints) layers.push_back(hex64(f));
  j["layer_fingerprints"] = layers;
  return j;
}

inline Json metrics_json(const QualityMetrics& q) {
  Json j = Json::object();
  j["loss_sum"] = q.loss_sum;
  j["correct"] = q.correct;
  j["predictions"] = q.predictions;
  j["kl_sum"] = q.kl_sum;
  j["kl_rows"] = q.kl_rows;
  j["loss"] = q.loss();  // derived, for readers: ignored when loading
  j["accuracy"] = q.accuracy();
  j["kl"] = q.kl();
  if (q.answers > 0) {  // task samples only: files of suffix-only profiles stay as they were
    j["f1_sum"] = q.f1_sum;
    j["exact_sum"] = q.exact_sum;
    j["answers"] = q.answers;
    j["f1"] = q.f1();
    j["exact"] = q.exact();
  }
  return j;
}

inline Json stored_json(const std::vector<StoredPlanQuality>& v) {
  Json a = Json::array();
  for (const StoredPlanQuality& p : v) {
    Json j = metrics_json(p.quality);
    j["plan"] = p.plan;
    a.push_back(j);
  }
  return a;
}

// The cost's components with their names in the file.
struct CostComponent {
  const char* name;
  PassCount ProfileCost::*member;
};
inline constexpr CostComponent kCostComponents[] = {{"sender_prefill", &ProfileCost::sender_prefill},
                                                    {"reference_prefill", &ProfileCost::reference_prefill},
                                                    {"context_recompute", &ProfileCost::context_recompute},
                                                    {"suffix", &ProfileCost::suffix}};

inline Json pass_json(const PassCount& c) {
  Json j = Json::object();
  j["layer_token_passes"] = c.layer_token_passes;
  j["seconds"] = c.seconds;
  return j;
}

inline Json cost_json(const ProfileCost& c) {
  Json j = Json::object();
  for (const CostComponent& k : kCostComponents) j[k.name] = pass_json(c.*k.member);
  j["total"] = pass_json(c.total());  // restated for readers: checked when loading
  j["full_prefill_passes"] = c.full_prefill_passes;
  j["prefills"] = c.prefills();  // derived, for readers: ignored when loading
  j["timed"] = c.timed;
  return j;
}

// Typed access to the members of one JSON object, naming the file and the path on failure.
class Fields {
 public:
  Fields(const Json& j, std::string where) : j_(j), where_(std::move(where)) {}
  Status object(const char* key, const Json*& out) const {
    const Json* v = find(key);
    if (v == nullptr || !v->is_object()) return bad(key, "an object");
    out = v;
    return Status::ok();
  }
  Status array(const char* key, const Json*& out) const {
    const Json* v = find(key);
    if (v == nullptr || !v->is_array()) return bad(key, "an array");
    out = v;
    return Status::ok();
  }
  Status i64(const char* key, std::int64_t& out) const {
    const Json* v = find(key);
    if (v == nullptr || !io::detail::json_to_i64(*v, out)) return bad(key, "an integer");
    return Status::ok();
  }
  Status number(const char* key, double& out) const {
    const Json* v = find(key);
    if (v == nullptr || !io::detail::json_to_double(*v, out)) return bad(key, "a finite number");
    return Status::ok();
  }
  Status boolean(const char* key, bool& out) const {
    const Json* v = find(key);
    if (v == nullptr || !v->is_boolean()) return bad(key, "true or false");
    out = v->get<bool>();
    return Status::ok();
  }
  Status string(const char* key, std::string& out) const {
    const Json* v = find(key);
    if (v == nullptr || !v->is_string()) return bad(key, "a string");
    out = v->get<std::string>();
    return Status::ok();
  }
  Status fingerprint(const char* key, std::uint64_t& out) const {
    std::string s;
    DROIDSPEAK_TRY(string(key, s));
    return parse_hex(s, key, out);
  }
  Status parse_hex(const std::string& s, const std::string& key, std::uint64_t& out) const {
    if (s.size() != 18 || s.compare(0, 2, "0x") != 0) return bad(key.c_str(), "a 0x-prefixed 16-digit hex string");
    out = 0;
    for (std::size_t i = 2; i < s.size(); ++i) {
      const char c = s[i];
      const int d = c >= '0' && c <= '9' ? c - '0' : (c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1);
      if (d < 0) return bad(key.c_str(), "a 0x-prefixed 16-digit lower-case hex string");
      out = out << 4 | static_cast<std::uint64_t>(d);
    }
    return Status::ok();
  }
  const std::string& where() const { return where_; }
  bool has(const char* key) const { return find(key) != nullptr; }

 private:
  const Json* find(const char* key) const {
    const auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  Status bad(const char* key, const char* what) const {
    return Status::io_error(where_ + ": field '" + key + "' must be " + what);
  }
  const Json& j_;
  std::string where_;
};

inline Status read_record(const Fields& f, const char* key, plan::CompatibilityRecord& r) {
  const Json* obj = nullptr;
  DROIDSPEAK_TRY(f.object(key, obj));
  const Fields g(*obj, f.where() + ": " + key);
  DROIDSPEAK_TRY(g.string("architecture", r.architecture));
  DROIDSPEAK_TRY(g.i64("num_layers", r.geometry.num_layers));
  DROIDSPEAK_TRY(g.i64("hidden_size", r.geometry.hidden_size));
  DROIDSPEAK_TRY(g.i64("num_q_heads", r.geometry.num_q_heads));
  DROIDSPEAK_TRY(g.i64("num_kv_heads", r.geometry.num_kv_heads));
  DROIDSPEAK_TRY(g.i64("head_dim", r.geometry.head_dim));
  DROIDSPEAK_TRY(r.geometry.validate().with_context(g.where()));
  DROIDSPEAK_TRY(g.number("rms_norm_eps", r.rms_norm_eps));
  if (!(r.rms_norm_eps > 0.0)) return Status::io_error(g.where() + ": field 'rms_norm_eps' must be > 0");
  DROIDSPEAK_TRY(g.i64("vocab_size", r.vocab_size));
  DROIDSPEAK_TRY(g.number("rope_theta", r.rope.theta));
  DROIDSPEAK_TRY(g.boolean("rope_llama3", r.rope.llama3_scaling));
  DROIDSPEAK_TRY(g.number("rope_factor", r.rope.factor));
  DROIDSPEAK_TRY(g.number("rope_low_freq_factor", r.rope.low_freq_factor));
  DROIDSPEAK_TRY(g.number("rope_high_freq_factor", r.rope.high_freq_factor));
  DROIDSPEAK_TRY(g.i64("rope_original_max_position_embeddings", r.rope.original_max_position_embeddings));
  DROIDSPEAK_TRY(g.fingerprint("embedding_fingerprint", r.embedding_fingerprint));
  DROIDSPEAK_TRY(g.fingerprint("head_fingerprint", r.head_fingerprint));
  const Json* layers = nullptr;
  DROIDSPEAK_TRY(g.array("layer_fingerprints", layers));
  if (static_cast<std::int64_t>(layers->size()) != r.geometry.num_layers) {
    return Status::io_error(g.where() + ": layer_fingerprints has " + std::to_string(layers->size()) +
                            " entries for " + std::to_string(r.geometry.num_layers) + " layers");
  }
  r.layer_fingerprints.clear();
  for (std::size_t i = 0; i < layers->size(); ++i) {
    const Json& v = (*layers)[i];
    std::uint64_t fp = 0;
    if (!v.is_string()) return Status::io_error(g.where() + ": layer_fingerprints[" + std::to_string(i) + "] must be a string");
    DROIDSPEAK_TRY(g.parse_hex(v.get<std::string>(), "layer_fingerprints[" + std::to_string(i) + "]", fp));
    r.layer_fingerprints.push_back(fp);
  }
  return Status::ok();
}

inline Status read_metrics(const Fields& f, QualityMetrics& q) {
  DROIDSPEAK_TRY(f.number("loss_sum", q.loss_sum));
  DROIDSPEAK_TRY(f.number("correct", q.correct));
  DROIDSPEAK_TRY(f.i64("predictions", q.predictions));
  DROIDSPEAK_TRY(f.number("kl_sum", q.kl_sum));
  DROIDSPEAK_TRY(f.i64("kl_rows", q.kl_rows));
  if (q.predictions < 0 || q.kl_rows < 0) return Status::io_error(f.where() + ": negative counts");
  if (f.has("answers")) {  // written for task samples only
    DROIDSPEAK_TRY(f.number("f1_sum", q.f1_sum));
    DROIDSPEAK_TRY(f.number("exact_sum", q.exact_sum));
    DROIDSPEAK_TRY(f.i64("answers", q.answers));
    if (q.answers < 0) return Status::io_error(f.where() + ": negative counts");
  }
  return Status::ok();
}

inline Status read_stored(const Fields& f, const char* key, std::int64_t num_layers,
                          std::vector<StoredPlanQuality>& out) {
  const Json* arr = nullptr;
  DROIDSPEAK_TRY(f.array(key, arr));
  out.clear();
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const std::string where = f.where() + ": " + key + "[" + std::to_string(i) + "]";
    if (!(*arr)[i].is_object()) return Status::io_error(where + " must be an object");
    const Fields e((*arr)[i], where);
    StoredPlanQuality s;
    DROIDSPEAK_TRY(e.string("plan", s.plan));
    DROIDSPEAK_TRY(plan::ReusePlan::parse(s.plan, num_layers).status().with_context(where));
    DROIDSPEAK_TRY(read_metrics(e, s.quality));
    out.push_back(std::move(s));
  }
  return Status::ok();
}

// One stored cost: every count >= 0, every time finite and >= 0 (0 when not timed), the
// restated total equal to the sum of the components, and a full prefill of at least one pass.
inline Status read_pass(const Fields& f, const char* key, PassCount& c) {
  const Json* obj = nullptr;
  DROIDSPEAK_TRY(f.object(key, obj));
  const Fields g(*obj, f.where() + ": " + key);
  DROIDSPEAK_TRY(g.i64("layer_token_passes", c.layer_token_passes));
  DROIDSPEAK_TRY(g.number("seconds", c.seconds));
  if (c.layer_token_passes < 0) return Status::io_error(g.where() + ": field 'layer_token_passes' must be >= 0");
  if (!(c.seconds >= 0.0)) return Status::io_error(g.where() + ": field 'seconds' must be >= 0");
  return Status::ok();
}

inline Status read_cost(const Fields& f, const char* key, std::optional<ProfileCost>& out) {
  out.reset();
  const Json* obj = nullptr;
  if (!f.has(key)) return Status::ok();
  DROIDSPEAK_TRY(f.object(key, obj));
  const Fields g(*obj, f.where() + ": " + key);
  ProfileCost c;
  for (const CostComponent& k : kCostComponents) DROIDSPEAK_TRY(read_pass(g, k.name, c.*k.member));
  DROIDSPEAK_TRY(g.i64("full_prefill_passes", c.full_prefill_passes));
  if (c.full_prefill_passes < 1) return Status::io_error(g.where() + ": field 'full_prefill_passes' must be >= 1");
  DROIDSPEAK_TRY(g.boolean("timed", c.timed));
  PassCount total;
  DROIDSPEAK_TRY(read_pass(g, "total", total));
  const PassCount sum = c.total();
  if (total.layer_token_passes != sum.layer_token_passes) {
    return Status::io_error(g.where() + ": field 'total' has " + std::to_string(total.layer_token_passes) +
                            " layer-token passes, the components sum to " + std::to_string(sum.layer_token_passes));
  }
  // Written as the same sum of the same doubles, it reads back equal; allow for a reader's rounding.
  if (std::abs(total.seconds - sum.seconds) > 1e-9 * std::max(1.0, sum.seconds)) {
    return Status::io_error(g.where() + ": field 'total' has " + std::to_string(total.seconds) +
                            " s, the components sum to " + std::to_string(sum.seconds));
  }
  if (!c.timed && sum.seconds != 0.0) return Status::io_error(g.where() + ": untimed but its seconds are not 0");
  out = c;
  return Status::ok();
}

inline Json guard_json(const GuardThresholds& g) {
  Json j = Json::object();
  j["probe_tokens"] = g.probe_tokens;
  j["margin"] = g.margin;
  j["min_bound"] = g.min_bound;
  j["samples"] = g.num_samples;
  j["observed_max_relative_l2"] = g.observed_max_relative_l2;
  j["layer_max_relative_l2"] = g.layer_max_relative_l2;
  return j;
}

// One per-layer array of the guard: num_layers finite numbers >= 0.
inline Status read_layer_values(const Fields& f, const char* key, std::int64_t num_layers, std::vector<double>& out) {
  const Json* arr = nullptr;
  DROIDSPEAK_TRY(f.array(key, arr));
  if (static_cast<std::int64_t>(arr->size()) != num_layers) {
    return Status::io_error(f.where() + ": field '" + key + "' has " + std::to_string(arr->size()) + " entries for " +
                            std::to_string(num_layers) + " layers");
  }
  out.clear();
  for (std::size_t i = 0; i < arr->size(); ++i) {
    double v = 0.0;
    if (!io::detail::json_to_double((*arr)[i], v) || !(v >= 0.0)) {
      return Status::io_error(f.where() + ": field '" + key + "' entry " + std::to_string(i) +
                              " must be a finite number >= 0");
    }
    out.push_back(v);
  }
  return Status::ok();
}

inline Status read_guard(const Fields& f, const ReusePlan& plan, std::optional<GuardThresholds>& out) {
  out.reset();
  if (!f.has("guard")) return Status::ok();
  const Json* obj = nullptr;
  DROIDSPEAK_TRY(f.object("guard", obj));
  const Fields g(*obj, f.where() + ": guard");
  GuardThresholds t;
  DROIDSPEAK_TRY(g.i64("probe_tokens", t.probe_tokens));
  if (t.probe_tokens < 1) return Status::io_error(g.where() + ": field 'probe_tokens' must be >= 1");
  DROIDSPEAK_TRY(g.number("margin", t.margin));
  if (!(t.margin >= 1.0)) return Status::io_error(g.where() + ": field 'margin' must be >= 1");
  DROIDSPEAK_TRY(g.number("min_bound", t.min_bound));
  if (!(t.min_bound >= 0.0)) return Status::io_error(g.where() + ": field 'min_bound' must be >= 0");
  DROIDSPEAK_TRY(g.i64("samples", t.num_samples));
  if (t.num_samples < 1) return Status::io_error(g.where() + ": field 'samples' must be >= 1");
  DROIDSPEAK_TRY(read_layer_values(g, "observed_max_relative_l2", plan.num_layers(), t.observed_max_relative_l2));
  DROIDSPEAK_TRY(read_layer_values(g, "layer_max_relative_l2", plan.num_layers(), t.layer_max_relative_l2));
  // The guard ignores the bounds of recomputed layers; a nonzero one means the bounds were
  // calibrated for another plan.
  const layout::LayerSet reused = plan.reused();
  for (std::int64_t l = 0; l < plan.num_layers(); ++l) {
    if (!reused.contains(l) && t.layer_max_relative_l2[static_cast<std::size_t>(l)] != 0.0) {
      return Status::io_error(g.where() + ": field 'layer_max_relative_l2' bounds layer " + std::to_string(l) +
                              ", which plan '" + plan.to_string() + "' recomputes (must be 0)");
    }
  }
  out = std::move(t);
  return Status::ok();
}

}  // namespace detail

//! The plan file as JSON text (2-space indent).
inline std::string plan_file_json(const PlanFile& p) {
  using detail::Json;
  Json j = Json::object();
  j["format"] = "droidspeak-plan";
  j["version"] = PlanFile::kVersion;
  j["num_layers"] = p.plan.num_layers();
  j["plan"] = p.plan.to_string();
  Json intervals = Json::array();
  for (const plan::LayerInterval& v : p.plan.intervals()) intervals.push_back(Json::array({v.first, v.last}));
  j["recomputed_intervals"] = intervals;
  j["layers_recomputed"] = p.plan.num_recomputed();
  Json sel = Json::object();
  sel["measure"] = std::string(to_string(p.measure));
  sel["threshold"] = p.threshold;
  sel["max_intervals"] = p.max_intervals;
  j["selection"] = sel;
  Json pred = Json::object();
  pred["quality_drop"] = p.predicted_quality_drop;
  pred["prefill_ratio"] = p.predicted_prefill_ratio;
  j["predicted"] = pred;
  j["sender"] = detail::record_json(p.sender);
  j["receiver"] = detail::record_json(p.receiver);
  Json prof = Json::object();
  prof["granularity"] = p.granularity;
  prof["num_samples"] = p.num_samples;
  prof["full_prefill"] = detail::metrics_json(p.full_prefill);
  prof["grid"] = detail::stored_json(p.grid);
  prof["frontier"] = detail::stored_json(p.frontier);
  prof["context_layer_token_passes"] = p.profile_context_layer_token_passes;
  prof["exhaustive_context_layer_token_passes"] = p.exhaustive_context_layer_token_passes;
  if (p.profile_cost) prof["profile_cost"] = detail::cost_json(*p.profile_cost);
  if (p.exhaustive_cost) prof["exhaustive_cost"] = detail::cost_json(*p.exhaustive_cost);
  if (p.pruned_for) prof["pruned_for"] = std::string(to_string(*p.pruned_for));
  j["profile"] = prof;
  if (p.guard) j["guard"] = detail::guard_json(*p.guard);
  return j.dump(2) + "\n";
}

namespace detail {

// "recomputed_intervals" and "layers_recomputed" restate "plan" for readers; a file whose
// restatement disagrees was edited by hand or is corrupt, and is refused.
inline Status check_restated_plan(const Fields& f, const ReusePlan& plan) {
  const Json* arr = nullptr;
  DROIDSPEAK_TRY(f.array("recomputed_intervals", arr));
  std::vector<LayerInterval> listed;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const Json& v = (*arr)[i];
    std::int64_t first = 0;
    std::int64_t last = 0;
    if (!v.is_array() || v.size() != 2 || !io::detail::json_to_i64(v[0], first) ||
        !io::detail::json_to_i64(v[1], last)) {
      return Status::io_error(f.where() + ": field 'recomputed_intervals' entry " + std::to_string(i) +
                              " must be a pair [first, last] of layers");
    }
    listed.push_back({first, last});
  }
  const std::vector<LayerInterval>& planned = plan.intervals();
  bool same = listed.size() == planned.size();
  for (std::size_t i = 0; same && i < listed.size(); ++i) {
    same = listed[i].first == planned[i].first && listed[i].last == planned[i].last;
  }
  if (!same) {
    return Status::io_error(f.where() + ": field 'recomputed_intervals' does not list the intervals of plan '" +
                            plan.to_string() + "'");
  }
  std::int64_t recomputed = 0;
  DROIDSPEAK_TRY(f.i64("layers_recomputed", recomputed));
  if (recomputed != plan.num_recomputed()) {
    return Status::io_error(f.where() + ": field 'layers_recomputed' is " + std::to_string(recomputed) + " but plan '" +
                            plan.to_string() + "' recomputes " + std::to_string(plan.num_recomputed()) + " layers");
  }
  return Status::ok();
}

// A count that must be at least `min`.
inline Status at_least(const Fields& f, const char* key, std::int64_t value, std::int64_t min) {
  if (value >= min) return Status::ok();
  return Status::io_error(f.where() + ": field '" + key + "' must be >= " + std::to_string(min) + ", got " +
                          std::to_string(value));
}

}  // namespace detail

//! Parses and validates plan-file text; `file_name` prefixes every message, which names the
//! field at fault. Beyond types, it refuses: a plan whose restated intervals
//! (`recomputed_intervals`, `layers_recomputed`) disagree with `plan`; records for another
//! layer count; an unknown measure; a threshold that is negative (it is a drop: >= 0);
//! max_intervals, granularity or num_samples below 1; an empty profiling grid; a stored cost
//! (optional) with a negative or non-finite count or time, a restated total that is not the
//! sum of its components, or time in an untimed one; a `pruned_for` other than loss or kl;
//! and a guard (optional) with probe_tokens below 1, a margin below 1, a negative min_bound,
//! samples below 1, per-layer arrays that do not have num_layers finite entries >= 0, or a
//! nonzero bound on a layer the plan recomputes.
inline Result<PlanFile> parse_plan_file(std::string_view text, std::string_view file_name) {
  const std::string file(file_name);
  const detail::Json root = io::detail::parse_json(text);
  if (root.is_discarded()) return Status::io_error(file + ": not valid JSON");
  if (!root.is_object()) return Status::io_error(file + ": top level is not a JSON object");
  const detail::Fields f(root, file);
  std::string format;
  DROIDSPEAK_TRY(f.string("format", format));
  if (format != "droidspeak-plan") return Status::io_error(file + ": format '" + format + "' is not droidspeak-plan");
  std::int64_t version = 0;
  DROIDSPEAK_TRY(f.i64("version", version));
  if (version != PlanFile::kVersion) {
    return Status::not_supported(file + ": plan file version " + std::to_string(version) +
                                 ", this build reads version " + std::to_string(PlanFile::kVersion));
  }
  PlanFile p;
  std::int64_t layers = 0;
  DROIDSPEAK_TRY(f.i64("num_layers", layers));
  std::string plan_text;
  DROIDSPEAK_TRY(f.string("plan", plan_text));
  Result<ReusePlan> rp = ReusePlan::parse(plan_text, layers);
  if (!rp) return rp.status().with_context(file);
  p.plan = *rp;
  DROIDSPEAK_TRY(detail::check_restated_plan(f, p.plan));
  DROIDSPEAK_TRY(detail::read_record(f, "sender", p.sender));
  DROIDSPEAK_TRY(detail::read_record(f, "receiver", p.receiver));
  if (p.sender.geometry.num_layers != layers || p.receiver.geometry.num_layers != layers) {
    return Status::io_error(file + ": the plan is for " + std::to_string(layers) + " layers but the records say " +
                            std::to_string(p.sender.geometry.num_layers) + " and " +
                            std::to_string(p.receiver.geometry.num_layers));
  }
  const detail::Json* sel = nullptr;
  DROIDSPEAK_TRY(f.object("selection", sel));
  const detail::Fields s(*sel, file + ": selection");
  std::string measure;
  DROIDSPEAK_TRY(s.string("measure", measure));
  Result<QualityMeasure> m = parse_quality_measure(measure);
  if (!m) return Status::io_error(m.status().with_context(s.where()).message());
  p.measure = *m;
  DROIDSPEAK_TRY(s.number("threshold", p.threshold));
  if (!(p.threshold >= 0.0)) {
    return Status::io_error(s.where() + ": field 'threshold' must be >= 0 (a quality drop), got " +
                            std::to_string(p.threshold));
  }
  DROIDSPEAK_TRY(s.i64("max_intervals", p.max_intervals));
  DROIDSPEAK_TRY(detail::at_least(s, "max_intervals", p.max_intervals, 1));
  const detail::Json* pred = nullptr;
  DROIDSPEAK_TRY(f.object("predicted", pred));
  const detail::Fields pf(*pred, file + ": predicted");
  DROIDSPEAK_TRY(pf.number("quality_drop", p.predicted_quality_drop));
  DROIDSPEAK_TRY(pf.number("prefill_ratio", p.predicted_prefill_ratio));
  const detail::Json* prof = nullptr;
  DROIDSPEAK_TRY(f.object("profile", prof));
  const detail::Fields pr(*prof, file + ": profile");
  DROIDSPEAK_TRY(pr.i64("granularity", p.granularity));
  DROIDSPEAK_TRY(detail::at_least(pr, "granularity", p.granularity, 1));
  DROIDSPEAK_TRY(pr.i64("num_samples", p.num_samples));
  DROIDSPEAK_TRY(detail::at_least(pr, "num_samples", p.num_samples, 1));
  const detail::Json* full = nullptr;
  DROIDSPEAK_TRY(pr.object("full_prefill", full));
  DROIDSPEAK_TRY(detail::read_metrics(detail::Fields(*full, file + ": profile: full_prefill"), p.full_prefill));
  DROIDSPEAK_TRY(detail::read_stored(pr, "grid", layers, p.grid));
  if (p.grid.empty()) return Status::io_error(pr.where() + ": field 'grid' is empty (a plan comes from a profile)");
  DROIDSPEAK_TRY(detail::read_stored(pr, "frontier", layers, p.frontier));
  DROIDSPEAK_TRY(pr.i64("context_layer_token_passes", p.profile_context_layer_token_passes));
  DROIDSPEAK_TRY(pr.i64("exhaustive_context_layer_token_passes", p.exhaustive_context_layer_token_passes));
  DROIDSPEAK_TRY(detail::read_cost(pr, "profile_cost", p.profile_cost));
  DROIDSPEAK_TRY(detail::read_cost(pr, "exhaustive_cost", p.exhaustive_cost));
  if (pr.has("pruned_for")) {
    std::string pruned;
    DROIDSPEAK_TRY(pr.string("pruned_for", pruned));
    Result<QualityMeasure> pm = parse_quality_measure(pruned);
    if (!pm || (*pm != QualityMeasure::kLoss && *pm != QualityMeasure::kKl)) {
      return Status::io_error(pr.where() + ": field 'pruned_for' must be \"loss\" or \"kl\", got \"" + pruned + "\"");
    }
    p.pruned_for = *pm;
  }
  DROIDSPEAK_TRY(detail::read_guard(f, p.plan, p.guard));
  return p;
}

//! Writes plan_file_json(p) to `path` atomically (io::write_file_atomically): a failure
//! leaves any previous file as it was, never a truncated one.
inline Status write_plan_file(const std::filesystem::path& path, const PlanFile& p) {
  return io::write_file_atomically(path, plan_file_json(p));
}

//! Reads and validates a plan file.
inline Result<PlanFile> read_plan_file(const std::filesystem::path& path) {
  std::string text;
  DROIDSPEAK_TRY(io::detail::read_text_file(path, text));
  return parse_plan_file(text, path.string());
}

//! Refuses a plan made for another pair: the records stored in the file must equal those of
//! the models about to use it (architecture, geometry, vocabulary, rms_norm_eps, RoPE and
//! every weight fingerprint). The message names the first part that differs.
inline Status check_plan_matches(const PlanFile& p, const CompatibilityRecord& sender,
                                 const CompatibilityRecord& receiver) {
  auto differ = [](const char* who, const CompatibilityRecord& file, const CompatibilityRecord& model) {
    std::string what = "weights";
    if (file.architecture != model.architecture) what = "architecture (" + file.architecture + " vs " + model.architecture + ")";
    else if (!(file.geometry == model.geometry)) what = "geometry";
    else if (file.vocab_size != model.vocab_size) what = "vocabulary";
    else if (file.rms_norm_eps != model.rms_norm_eps) {
      char eps[64];
      std::snprintf(eps, sizeof eps, "%.9g vs %.9g", file.rms_norm_eps, model.rms_norm_eps);
      what = std::string("rms_norm_eps (") + eps + ")";
    } else if (!(file.rope == model.rope)) what = "rope settings";
    else if (file.embedding_fingerprint != model.embedding_fingerprint) what = "embedding weights";
    else {
      for (std::size_t l = 0; l < file.layer_fingerprints.size() && l < model.layer_fingerprints.size(); ++l) {
        if (file.layer_fingerprints[l] != model.layer_fingerprints[l]) {
          what = "weights of layer " + std::to_string(l);
          break;
        }
      }
    }
    return Status::invalid_argument(std::string("plan file was made for another ") + who + ": its " + what +
                                    " differ from the model given");
  };
  if (!(p.sender == sender)) return differ("sender", p.sender, sender);
  if (!(p.receiver == receiver)) return differ("receiver", p.receiver, receiver);
  return Status::ok();
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::plan
