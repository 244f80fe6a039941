// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file libFuzzer target: any byte string parsed as a samples file, for a byte-level model
//! (vocab 256) of 4096 positions. Must never crash, throw or hang; every failure names the
//! file, and every sample read back is within the vocabulary and the position limit.
#include "droidspeak/profile/samples_file.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace profile = droidspeak::profile;
  constexpr std::int64_t kVocab = 256;
  constexpr std::int64_t kPositions = 4096;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto samples = profile::parse_samples(text, "fuzz.jsonl", kVocab, kPositions);
  if (!samples) {
    if (samples.status().message().rfind("fuzz.jsonl", 0) != 0) __builtin_trap();
    return 0;
  }
  if (samples->empty()) __builtin_trap();
  for (const profile::Sample& s : *samples) {
    if (s.context.empty() || s.suffix.size() < 2) __builtin_trap();
    if (static_cast<std::int64_t>(s.context.size() + s.suffix.size()) > kPositions) __builtin_trap();
    for (const auto* tokens : {&s.context, &s.suffix}) {
      for (std::int32_t t : *tokens) {
        if (t < 0 || t >= kVocab) __builtin_trap();
      }
    }
  }
  return 0;
}
