// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
#include "droidspeak/io/plan_file.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

using namespace droidspeak;

namespace {

plan::CompatibilityRecord record(std::uint64_t salt) {
  plan::CompatibilityRecord r;
  r.architecture = "LlamaForCausalLM";
  r.geometry = {4, 64, 4, 2, 16};
  r.vocab_size = 256;
  r.embedding_fingerprint = 0xABCDEF0123456789ull;
  r.head_fingerprint = 7;
  r.layer_fingerprints = {1, 2, 3 + salt, 0xFFFFFFFFFFFFFFFFull};
  return r;
}

io::PlanFile example() {
  io::PlanFile p;
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
  const io::PlanFile p = example();
  const std::string text = io::plan_file_json(p);
  Result<io::PlanFile> back = io::parse_plan_file(text, "plan.json");
  REQUIRE_MESSAGE(back.is_ok(), back.status().to_string());
  CHECK(back->plan == p.plan);
  CHECK(back->sender == p.sender);
  CHECK(back->receiver == p.receiver);
  CHECK(back->full_prefill.loss_sum == p.full_prefill.loss_sum);
  CHECK(back->grid.size() == 2);
  CHECK(back->grid[1].plan == "1-2");
  CHECK(back->grid[1].quality.kl_sum == 0.125);
  CHECK(back->predicted_prefill_ratio == 0.61);
  CHECK(io::plan_file_json(*back) == text);

  const std::filesystem::path path = std::filesystem::temp_directory_path() / "droidspeak_plan_test.json";
  REQUIRE(io::write_plan_file(path, p).is_ok());
  Result<io::PlanFile> from_disk = io::read_plan_file(path);
  REQUIRE(from_disk.is_ok());
  CHECK(from_disk->plan == p.plan);
  std::filesystem::remove(path);
}

TEST_CASE("corrupted plan files are refused with the file and the problem") {
  const std::string text = io::plan_file_json(example());
  auto message = [](const std::string& t) { return io::parse_plan_file(t, "p.json").status().message(); };
  CHECK(message("{not json") == "p.json: not valid JSON");
  CHECK(message("[1]") == "p.json: top level is not a JSON object");
  CHECK(message(replace(text, "\"droidspeak-plan\"", "\"other\"")) == "p.json: format 'other' is not droidspeak-plan");
  CHECK(io::parse_plan_file(replace(text, "\"version\": 1", "\"version\": 2"), "p.json").status().message() ==
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
        "p.json: selection: measure 'bleu' is not loss, accuracy or kl");
  CHECK(message(replace(text, "\"plan\": \"none\"", "\"plan\": \"x\"")) ==
        "p.json: profile: frontier[0]: reuse plan: cannot read interval 'x' (expected N or N-M)");
  const io::PlanFile missing_profile = example();
  std::string cut = io::plan_file_json(missing_profile);
  cut = replace(cut, "\"profile\"", "\"profil\"");
  CHECK(message(cut) == "p.json: field 'profile' must be an object");
  CHECK(io::read_plan_file("/nonexistent/plan.json").status().code() == StatusCode::kErrorIo);
}

TEST_CASE("a plan for another pair is refused") {
  const io::PlanFile p = example();
  CHECK(io::check_plan_matches(p, record(0), record(1)).is_ok());
  CHECK(io::check_plan_matches(p, record(0), record(2)).message() ==
        "plan file was made for another receiver: its weights of layer 2 differ from the model given");
  plan::CompatibilityRecord wide = record(0);
  wide.geometry.num_kv_heads = 4;
  CHECK(io::check_plan_matches(p, wide, record(1)).message() ==
        "plan file was made for another sender: its geometry differ from the model given");
}
