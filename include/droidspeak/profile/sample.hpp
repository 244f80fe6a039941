// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file One profiling or evaluation sample, on its own: reading or writing samples never
//! compiles the profiler or the executor.
#pragma once

#include "droidspeak/core/config.hpp"

#include <cstdint>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile {

//! What a sample's reference answer is, if it has one.
enum class AnswerKind : std::uint8_t {
  kNone,  //!< a suffix-only sample: scored by loss, accuracy and KL only
  kText,  //!< the answer's tokens are UTF-8 bytes: scored on text (profile::score_text_answer)
  kIds,   //!< token ids of any model: scored on ids (profile::score_token_answer)
};

//! One profiling sample: a shared context and a suffix (the question) of at least 2 tokens.
//! Both hold token ids of the models the sample is for. A task sample
//! (profile/qa_samples_file.hpp) also holds the reference answer the receiver should generate
//! greedily after the suffix, scored by the f1 and exact measures.
struct Sample {
  std::vector<std::int32_t> context;
  std::vector<std::int32_t> suffix;
  std::vector<std::int32_t> answer{};       //!< the reference answer's tokens; empty: no answer
  AnswerKind answer_kind = AnswerKind::kNone;
  std::int64_t max_answer_tokens = 0;       //!< generation stops after this many tokens
  std::int32_t stop_token = -1;             //!< ... or after emitting this one (-1: never)

  bool has_answer() const { return answer_kind != AnswerKind::kNone; }
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile
