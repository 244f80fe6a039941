// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/plan/plan_file.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

using namespace droidspeak;

namespace {

plan::CompatibilityRecord record(std::uint64_t salt) {
  plan::CompatibilityRecord r;
  r.architecture = "LlamaForCausalLM";
  r.rms_norm_eps = 1e-5;
  r.geometry = {4, 64, 4, 2, 16};
  r.vocab_size = 256;
  r.embedding_fingerprint = 0xABCDEF0123456789ull;
  r.head_fingerprint = 7;
  r.layer_fingerprints = {1, 2, 3 + salt, 0xFFFFFFFFFFFFFFFFull};
  return r;
}

plan::PlanFile example() {
  plan::PlanFile p;
  p.plan = *plan::ReusePlan::parse("1-2", 4);
  p.sender = record(0);
  p.receiver = record(1);
  p.threshold = 0.05;
  p.predicted_quality_drop = 0.0312;
  p.predicted_prefill_ratio = 0.61;
  p.granularity = 1;
  p.num_samples = 3;
  p.full_prefill = {123.456789012345, 40, 60, 0.0, 63};
  p.grid = {{"none", {150.25, 31, 60, 3.5, 63}}, {"1-2", {127.3, 39, 60, 0.125, 63}}};
  p.frontier = {{"none", {150.25, 31, 60, 3.5, 63}}};
  p.profile_context_layer_token_passes = 1000;
  p.exhaustive_context_layer_token_passes = 2000;
  return p;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const std::size_t at = s.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("a plan file round-trips exactly") {
  const plan::PlanFile p = example();
  const std::string text = plan::plan_file_json(p);
  Result<plan::PlanFile> back = plan::parse_plan_file(text, "plan.json");
  REQUIRE_MESSAGE(back.is_ok(), back.status().to_string());
  CHECK(back->plan == p.plan);
  CHECK(back->sender == p.sender);
  CHECK(back->receiver == p.receiver);
  CHECK(back->full_prefill.loss_sum == p.full_prefill.loss_sum);
  CHECK(back->grid.size() == 2);
  CHECK(back->grid[1].plan == "1-2");
  CHECK(back->grid[1].quality.kl_sum == 0.125);
  CHECK(back->predicted_prefill_ratio == 0.61);
  CHECK(plan::plan_file_json(*back) == text);

  const std::filesystem::path path = std::filesystem::temp_directory_path() / "droidspeak_plan_test.json";
  REQUIRE(plan::write_plan_file(path, p).is_ok());
  Result<plan::PlanFile> from_disk = plan::read_plan_file(path);
  REQUIRE(from_disk.is_ok());
  CHECK(from_disk->plan == p.plan);
  std::filesystem::remove(path);
}

TEST_CASE("corrupted plan files are refused with the file and the problem") {
  const std::string text = plan::plan_file_json(example());
  auto message = [](const std::string& t) { return plan::parse_plan_file(t, "p.json").status().message(); };
  CHECK(message("{not json") == "p.json: not valid JSON");
  CHECK(message("[1]") == "p.json: top level is not a JSON object");
  CHECK(message(replace(text, "\"droidspeak-plan\"", "\"other\"")) == "p.json: format 'other' is not droidspeak-plan");
  CHECK(plan::parse_plan_file(replace(text, "\"version\": 1", "\"version\": 2"), "p.json").status().message() ==
        "p.json: plan file version 2, this build reads version 1");
  CHECK(message(replace(text, "\"plan\": \"1-2\"", "\"plan\": \"2-9\"")) ==
        "p.json: reuse plan: interval [2, 9] is not inside layers [0, 3]");
  CHECK(message(replace(text, "\"num_layers\": 4,\n  \"plan\"", "\"num_layers\": 5,\n  \"plan\"")) ==
        "p.json: the plan is for 5 layers but the records say 4 and 4");
  // Keys are written sorted: the first occurrence is the receiver's (and the frontier's below).
  CHECK(message(replace(text, "\"0xabcdef0123456789\"", "\"0xabcdefg123456789\"")) ==
        "p.json: receiver: field 'embedding_fingerprint' must be a 0x-prefixed 16-digit lower-case hex string");
  CHECK(message(replace(text, "\"threshold\": 0.05", "\"threshold\": \"x\"")) ==
        "p.json: selection: field 'threshold' must be a finite number");
  CHECK(message(replace(text, "\"measure\": \"loss\"", "\"measure\": \"bleu\"")) ==
        "p.json: selection: measure 'bleu' is not loss, accuracy, kl, f1 or exact");
  CHECK(message(replace(text, "\"plan\": \"none\"", "\"plan\": \"x\"")) ==
        "p.json: profile: frontier[0]: reuse plan: cannot read interval 'x' (expected N or N-M)");
  const plan::PlanFile missing_profile = example();
  std::string cut = plan::plan_file_json(missing_profile);
  cut = replace(cut, "\"profile\"", "\"profil\"");
  CHECK(message(cut) == "p.json: field 'profile' must be an object");
  CHECK(plan::read_plan_file("/nonexistent/plan.json").status().code() == StatusCode::kErrorIo);
}

TEST_CASE("a plan for another pair is refused") {
  const plan::PlanFile p = example();
  CHECK(plan::check_plan_matches(p, record(0), record(1)).is_ok());
  CHECK(plan::check_plan_matches(p, record(0), record(2)).message() ==
        "plan file was made for another receiver: its weights of layer 2 differ from the model given");
  plan::CompatibilityRecord wide = record(0);
  wide.geometry.num_kv_heads = 4;
  CHECK(plan::check_plan_matches(p, wide, record(1)).message() ==
        "plan file was made for another sender: its geometry differ from the model given");
}

TEST_CASE("quality measures have names, and unknown names are refused with the valid ones") {
  for (plan::QualityMeasure m : {plan::QualityMeasure::kLoss, plan::QualityMeasure::kAccuracy, plan::QualityMeasure::kKl,
                                 plan::QualityMeasure::kF1, plan::QualityMeasure::kExact}) {
    Result<plan::QualityMeasure> back = plan::parse_quality_measure(plan::to_string(m));
    REQUIRE(back.is_ok());
    CHECK(*back == m);
  }
  CHECK(plan::to_string(plan::QualityMeasure::kKl) == "kl");
  const Status bad = plan::parse_quality_measure("Loss").status();
  CHECK(bad.code() == StatusCode::kErrorInvalidArgument);
  CHECK(bad.message() == "measure 'Loss' is not loss, accuracy, kl, f1 or exact");
  CHECK(plan::to_string(plan::QualityMeasure::kF1) == "f1");
  CHECK(plan::to_string(plan::QualityMeasure::kExact) == "exact");
  CHECK(plan::needs_answers(plan::QualityMeasure::kF1));
  CHECK(!plan::needs_answers(plan::QualityMeasure::kLoss));
}

TEST_CASE("task metrics and the f1 and exact measures round-trip") {
  plan::PlanFile p = example();
  p.measure = plan::QualityMeasure::kF1;
  p.full_prefill.f1_sum = 2.75;
  p.full_prefill.exact_sum = 2;
  p.full_prefill.answers = 3;
  p.grid[1].quality.f1_sum = 1.0 / 3.0;
  p.grid[1].quality.answers = 3;
  const std::string text = plan::plan_file_json(p);
  CHECK(text.find("\"measure\": \"f1\"") != std::string::npos);
  Result<plan::PlanFile> back = plan::parse_plan_file(text, "p.json");
  REQUIRE_MESSAGE(back.is_ok(), back.status().to_string());
  CHECK(back->measure == plan::QualityMeasure::kF1);
  CHECK(back->full_prefill.f1_sum == 2.75);
  CHECK(back->full_prefill.exact_sum == 2.0);
  CHECK(back->full_prefill.answers == 3);
  CHECK(back->grid[1].quality.f1_sum == 1.0 / 3.0);
  CHECK(back->grid[0].quality.answers == 0);  // suffix-only metrics carry no answer fields
  CHECK(plan::plan_file_json(*back) == text);
  p.measure = plan::QualityMeasure::kExact;
  back = plan::parse_plan_file(plan::plan_file_json(p), "p.json");
  REQUIRE(back.is_ok());
  CHECK(back->measure == plan::QualityMeasure::kExact);
  CHECK(plan::parse_plan_file(replace(text, "\"answers\": 3", "\"answers\": -1"), "p.json").status().message() ==
        "p.json: profile: full_prefill: negative counts");
}

TEST_CASE("the measure is stored as its name and read back as the enum") {
  plan::PlanFile p = example();
  p.measure = plan::QualityMeasure::kKl;
  const std::string text = plan::plan_file_json(p);
  CHECK(text.find("\"measure\": \"kl\"") != std::string::npos);
  Result<plan::PlanFile> back = plan::parse_plan_file(text, "p.json");
  REQUIRE_MESSAGE(back.is_ok(), back.status().to_string());
  CHECK(back->measure == plan::QualityMeasure::kKl);
}

namespace {
std::string bad_plan_message(const std::string& from, const std::string& to) {
  return plan::parse_plan_file(replace(plan::plan_file_json(example()), from, to), "p.json").status().message();
}
}  // namespace

TEST_CASE("recomputed_intervals that disagree with the plan are refused") {
  // The plan is "1-2": intervals [[1, 2]], 2 layers recomputed.
  CHECK(bad_plan_message("\"recomputed_intervals\": [\n    [\n      1,\n      2\n    ]\n  ]",
                         "\"recomputed_intervals\": [[0, 3]]") ==
        "p.json: field 'recomputed_intervals' does not list the intervals of plan '1-2'");
  CHECK(bad_plan_message("\"recomputed_intervals\": [\n    [\n      1,\n      2\n    ]\n  ]",
                         "\"recomputed_intervals\": []") ==
        "p.json: field 'recomputed_intervals' does not list the intervals of plan '1-2'");
  CHECK(bad_plan_message("\"recomputed_intervals\": [\n    [\n      1,\n      2\n    ]\n  ]",
                         "\"recomputed_intervals\": [[1]]") ==
        "p.json: field 'recomputed_intervals' entry 0 must be a pair [first, last] of layers");
  CHECK(bad_plan_message("\"recomputed_intervals\"", "\"recomputed\"") ==
        "p.json: field 'recomputed_intervals' must be an array");
}

TEST_CASE("layers_recomputed that disagrees with the plan is refused") {
  CHECK(bad_plan_message("\"layers_recomputed\": 2", "\"layers_recomputed\": 3") ==
        "p.json: field 'layers_recomputed' is 3 but plan '1-2' recomputes 2 layers");
  CHECK(bad_plan_message("\"layers_recomputed\": 2", "\"layers_recomputed\": \"2\"") ==
        "p.json: field 'layers_recomputed' must be an integer");
}

TEST_CASE("a threshold of -1 is refused") {
  CHECK(bad_plan_message("\"threshold\": 0.05", "\"threshold\": -1") ==
        "p.json: selection: field 'threshold' must be >= 0 (a quality drop), got -1.000000");
  // JSON has no NaN or infinity literal (an overflowing one is not JSON); a string is no number.
  CHECK(bad_plan_message("\"threshold\": 0.05", "\"threshold\": 1e999") == "p.json: not valid JSON");
  CHECK(bad_plan_message("\"threshold\": 0.05", "\"threshold\": \"inf\"") ==
        "p.json: selection: field 'threshold' must be a finite number");
  CHECK(bad_plan_message("\"threshold\": 0.05", "\"threshold\": 0") == "");
}

TEST_CASE("an empty profiling grid is refused") {
  plan::PlanFile p = example();
  p.grid.clear();
  CHECK(plan::parse_plan_file(plan::plan_file_json(p), "p.json").status().message() ==
        "p.json: profile: field 'grid' is empty (a plan comes from a profile)");
}

TEST_CASE("counts below 1 are refused: max_intervals 0, granularity 0, num_samples 0") {
  CHECK(bad_plan_message("\"max_intervals\": 1", "\"max_intervals\": 0") ==
        "p.json: selection: field 'max_intervals' must be >= 1, got 0");
  CHECK(bad_plan_message("\"granularity\": 1", "\"granularity\": 0") ==
        "p.json: profile: field 'granularity' must be >= 1, got 0");
  CHECK(bad_plan_message("\"num_samples\": 3", "\"num_samples\": 0") ==
        "p.json: profile: field 'num_samples' must be >= 1, got 0");
}

TEST_CASE("a record without rms_norm_eps, or with eps 0, is refused") {
  // Keys are written sorted: the first occurrence is the receiver's.
  CHECK(bad_plan_message("\"rms_norm_eps\"", "\"rms_eps\"") ==
        "p.json: receiver: field 'rms_norm_eps' must be a finite number");
  CHECK(bad_plan_message("\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": 0") ==
        "p.json: receiver: field 'rms_norm_eps' must be > 0");
}

TEST_CASE("a plan for a receiver with another rms_norm_eps or architecture is refused") {
  const plan::PlanFile p = example();
  plan::CompatibilityRecord eps = record(1);
  eps.rms_norm_eps = 1e-6;
  CHECK(plan::check_plan_matches(p, record(0), eps).message() ==
        "plan file was made for another receiver: its rms_norm_eps (1e-05 vs 1e-06) differ "
        "from the model given");
  plan::CompatibilityRecord arch = record(0);
  arch.architecture = "Qwen2ForCausalLM";
  CHECK(plan::check_plan_matches(p, arch, record(1)).message() ==
        "plan file was made for another sender: its architecture (LlamaForCausalLM vs Qwen2ForCausalLM) differ "
        "from the model given");
  // Both survive the file: a plan read back matches the records it was written with.
  Result<plan::PlanFile> back = plan::parse_plan_file(plan::plan_file_json(p), "p.json");
  REQUIRE(back.is_ok());
  CHECK(back->receiver.rms_norm_eps == 1e-5);
  CHECK(plan::check_plan_matches(*back, record(0), record(1)).is_ok());
}

namespace {

plan::PlanFile with_costs() {
  plan::PlanFile p = example();
  plan::ProfileCost c;
  c.sender_prefill = {111, 0.25};
  c.reference_prefill = {222, 0.5};
  c.context_recompute = {333, 1.125};
  c.suffix = {444, 0.0625};
  c.full_prefill_passes = 250;
  c.timed = true;
  p.profile_cost = c;
  plan::ProfileCost x;
  x.sender_prefill = {111, 0.0};
  x.reference_prefill = {222, 0.0};
  x.context_recompute = {5555, 0.0};
  x.suffix = {6666, 0.0};
  x.full_prefill_passes = 250;
  p.exhaustive_cost = x;
  p.pruned_for = plan::QualityMeasure::kKl;
  return p;
}

std::string bad_cost_message(const std::string& from, const std::string& to) {
  return plan::parse_plan_file(replace(plan::plan_file_json(with_costs()), from, to), "p.json").status().message();
}

}  // namespace

TEST_CASE("the profiling cost, the sweep's and the pruning measure round-trip") {
  const plan::PlanFile p = with_costs();
  const std::string text = plan::plan_file_json(p);
  Result<plan::PlanFile> back = plan::parse_plan_file(text, "plan.json");
  REQUIRE_MESSAGE(back.is_ok(), back.status().to_string());
  REQUIRE(back->profile_cost.has_value());
  REQUIRE(back->exhaustive_cost.has_value());
  const plan::ProfileCost& c = *back->profile_cost;
  CHECK(c.sender_prefill.layer_token_passes == 111);
  CHECK(c.reference_prefill.seconds == 0.5);
  CHECK(c.context_recompute.layer_token_passes == 333);
  CHECK(c.suffix.seconds == 0.0625);
  CHECK(c.full_prefill_passes == 250);
  CHECK(c.timed);
  CHECK(c.total().layer_token_passes == 1110);
  CHECK(!back->exhaustive_cost->timed);
  CHECK(back->exhaustive_cost->total().layer_token_passes == 12554);
  CHECK(back->pruned_for == plan::QualityMeasure::kKl);
  CHECK(plan::plan_file_json(*back) == text);
  // The total and the prefill equivalents are restated for readers.
  CHECK(text.find("\"layer_token_passes\": 1110") != std::string::npos);
  CHECK(text.find("\"prefills\": 4.44") != std::string::npos);
  CHECK(text.find("\"pruned_for\": \"kl\"") != std::string::npos);
  // Files without them (written before they were stored, or by hand) still load.
  Result<plan::PlanFile> plain = plan::parse_plan_file(plan::plan_file_json(example()), "plan.json");
  REQUIRE(plain.is_ok());
  CHECK(!plain->profile_cost.has_value());
  CHECK(!plain->exhaustive_cost.has_value());
  CHECK(!plain->pruned_for.has_value());
}

TEST_CASE("a stored cost that is negative, non-finite or inconsistent is refused") {
  CHECK(bad_cost_message("\"layer_token_passes\": 333", "\"layer_token_passes\": -333") ==
        "p.json: profile: profile_cost: context_recompute: field 'layer_token_passes' must be >= 0");
  CHECK(bad_cost_message("\"seconds\": 1.125", "\"seconds\": -1.125") ==
        "p.json: profile: profile_cost: context_recompute: field 'seconds' must be >= 0");
  CHECK(bad_cost_message("\"seconds\": 1.125", "\"seconds\": \"inf\"") ==
        "p.json: profile: profile_cost: context_recompute: field 'seconds' must be a finite number");
  CHECK(bad_cost_message("\"layer_token_passes\": 1110", "\"layer_token_passes\": 1111") ==
        "p.json: profile: profile_cost: field 'total' has 1111 layer-token passes, the components sum to 1110");
  CHECK(bad_cost_message("\"seconds\": 1.9375", "\"seconds\": 2.5") ==
        "p.json: profile: profile_cost: field 'total' has 2.500000 s, the components sum to 1.937500");
  CHECK(bad_cost_message("\"layer_token_passes\": 5555", "\"layer_token_passes\": 5555.5") ==
        "p.json: profile: exhaustive_cost: context_recompute: field 'layer_token_passes' must be an integer");
  CHECK(bad_cost_message("\"full_prefill_passes\": 250", "\"full_prefill_passes\": 0") ==
        "p.json: profile: exhaustive_cost: field 'full_prefill_passes' must be >= 1");
  CHECK(bad_cost_message("\"timed\": false", "\"timed\": 0") ==
        "p.json: profile: exhaustive_cost: field 'timed' must be true or false");
  CHECK(bad_cost_message("\"suffix\": {\n        \"layer_token_passes\": 6666,\n        \"seconds\": 0.0",
                         "\"suffix\": {\n        \"layer_token_passes\": 6666,\n        \"seconds\": 0.5") ==
        "p.json: profile: exhaustive_cost: field 'total' has 0.000000 s, the components sum to 0.500000");
  CHECK(bad_cost_message("\"total\": {\n        \"layer_token_passes\": 12554,\n        \"seconds\": 0.0",
                         "\"total\": {\n        \"layer_token_passes\": 12554,\n        \"seconds\": 0.5") ==
        "p.json: profile: exhaustive_cost: field 'total' has 0.500000 s, the components sum to 0.000000");
  CHECK(bad_cost_message("\"sender_prefill\": {", "\"sender\": {") ==
        "p.json: profile: exhaustive_cost: field 'sender_prefill' must be an object");
  CHECK(bad_cost_message("\"pruned_for\": \"kl\"", "\"pruned_for\": \"accuracy\"") ==
        "p.json: profile: field 'pruned_for' must be \"loss\" or \"kl\", got \"accuracy\"");
  CHECK(bad_cost_message("\"pruned_for\": \"kl\"", "\"pruned_for\": \"f1\"") ==
        "p.json: profile: field 'pruned_for' must be \"loss\" or \"kl\", got \"f1\"");
  CHECK(bad_cost_message("\"pruned_for\": \"kl\"", "\"pruned_for\": 1") ==
        "p.json: profile: field 'pruned_for' must be a string");
}

namespace {

// example()'s plan "1-2" recomputes layers 1 and 2 of 4: the guard bounds layers 0 and 3.
plan::PlanFile with_guard() {
  plan::PlanFile p = example();
  plan::GuardThresholds g;
  g.probe_tokens = 16;
  g.margin = 1.5;
  g.min_bound = 0.001;
  g.num_samples = 3;
  g.observed_max_relative_l2 = {0.25, 0.0, 0.0, 0.125};
  g.layer_max_relative_l2 = {0.375, 0.0, 0.0, 0.1875};
  p.guard = g;
  return p;
}

std::string bad_guard_message(const std::string& from, const std::string& to) {
  return plan::parse_plan_file(replace(plan::plan_file_json(with_guard()), from, to), "p.json").status().message();
}

}  // namespace

TEST_CASE("the guard's calibration round-trips, and files without one still load") {
  const plan::PlanFile p = with_guard();
  const std::string text = plan::plan_file_json(p);
  Result<plan::PlanFile> back = plan::parse_plan_file(text, "plan.json");
  REQUIRE_MESSAGE(back.is_ok(), back.status().to_string());
  REQUIRE(back->guard.has_value());
  const plan::GuardThresholds& g = *back->guard;
  CHECK(g.probe_tokens == 16);
  CHECK(g.margin == 1.5);
  CHECK(g.min_bound == 0.001);
  CHECK(g.num_samples == 3);
  CHECK(g.observed_max_relative_l2 == std::vector<double>{0.25, 0.0, 0.0, 0.125});
  CHECK(g.layer_max_relative_l2 == std::vector<double>{0.375, 0.0, 0.0, 0.1875});
  CHECK(plan::plan_file_json(*back) == text);
  CHECK(text.find("\"guard\": {") != std::string::npos);
  Result<plan::PlanFile> plain = plan::parse_plan_file(plan::plan_file_json(example()), "plan.json");
  REQUIRE(plain.is_ok());
  CHECK(!plain->guard.has_value());
  CHECK(plan::plan_file_json(example()).find("\"guard\"") == std::string::npos);
}

TEST_CASE("a guard with bad counts, arrays of the wrong size, bad values or bounds on recomputed layers is refused") {
  CHECK(bad_guard_message("\"probe_tokens\": 16", "\"probe_tokens\": 0") ==
        "p.json: guard: field 'probe_tokens' must be >= 1");
  CHECK(bad_guard_message("\"margin\": 1.5", "\"margin\": 0.5") == "p.json: guard: field 'margin' must be >= 1");
  CHECK(bad_guard_message("\"min_bound\": 0.001", "\"min_bound\": -0.001") ==
        "p.json: guard: field 'min_bound' must be >= 0");
  CHECK(bad_guard_message("\"samples\": 3", "\"samples\": 0") == "p.json: guard: field 'samples' must be >= 1");
  CHECK(bad_guard_message("\"layer_max_relative_l2\": [\n      0.375,", "\"layer_max_relative_l2\": [\n      0.375, 0.5,") ==
        "p.json: guard: field 'layer_max_relative_l2' has 5 entries for 4 layers");
  CHECK(bad_guard_message("\"observed_max_relative_l2\": [\n      0.25,", "\"observed_max_relative_l2\": [") ==
        "p.json: guard: field 'observed_max_relative_l2' has 3 entries for 4 layers");
  CHECK(bad_guard_message("\"observed_max_relative_l2\": [\n      0.25,", "\"observed_max_relative_l2\": [\n      -0.25,") ==
        "p.json: guard: field 'observed_max_relative_l2' entry 0 must be a finite number >= 0");
  CHECK(bad_guard_message("\"layer_max_relative_l2\": [\n      0.375,", "\"layer_max_relative_l2\": [\n      \"inf\",") ==
        "p.json: guard: field 'layer_max_relative_l2' entry 0 must be a finite number >= 0");
  CHECK(bad_guard_message("\"layer_max_relative_l2\": [\n      0.375,\n      0.0,",
                          "\"layer_max_relative_l2\": [\n      0.375,\n      0.5,") ==
        "p.json: guard: field 'layer_max_relative_l2' bounds layer 1, which plan '1-2' recomputes (must be 0)");
  CHECK(bad_guard_message("\"guard\": {", "\"guard\": 1, \"x\": {") == "p.json: field 'guard' must be an object");
}
