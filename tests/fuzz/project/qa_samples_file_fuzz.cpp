// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file libFuzzer target: any byte string parsed as a task samples file, for a byte-level
//! model (vocab 256) of 4096 positions. Must never crash, throw or hang; every failure names
//! the file, and every sample read back is within the vocabulary and the position limit with
//! its generation budget, and never holds its stop token in the answer.
#include "droidspeak/profile/qa_samples_file.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace profile = droidspeak::profile;
  constexpr std::int64_t kVocab = 256;
  constexpr std::int64_t kPositions = 4096;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)profile::looks_like_qa_samples(text);
  auto samples = profile::parse_qa_samples(text, "fuzz.jsonl", kVocab, kPositions);
  if (!samples) {
    if (samples.status().message().rfind("fuzz.jsonl", 0) != 0) __builtin_trap();
    return 0;
  }
  if (samples->empty()) __builtin_trap();
  for (const profile::Sample& s : *samples) {
    if (s.context.empty() || s.suffix.size() < 2 || s.answer.empty() || !s.has_answer()) __builtin_trap();
    if (s.max_answer_tokens < 1 || s.max_answer_tokens > profile::kMaxAnswerTokens) __builtin_trap();
    if (static_cast<std::int64_t>(s.context.size() + s.suffix.size()) + s.max_answer_tokens > kPositions) {
      __builtin_trap();
    }
    if (s.stop_token >= kVocab || std::find(s.answer.begin(), s.answer.end(), s.stop_token) != s.answer.end()) {
      __builtin_trap();
    }
    for (const auto* tokens : {&s.context, &s.suffix, &s.answer}) {
      for (std::int32_t t : *tokens) {
        if (t < 0 || t >= kVocab) __builtin_trap();
      }
    }
  }
  return 0;
}
