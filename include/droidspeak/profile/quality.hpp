// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Quality of a receiver's predictions on a suffix: teacher-forced loss, next-token
//! accuracy and KL divergence from the receiver's full-prefill distributions; and of its
//! generated answers on task samples: F1 and exact match.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/plan/quality_measure.hpp"
#include "droidspeak/profile/answer_score.hpp"
#include "droidspeak/profile/sample.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace profile {

// The metrics and the measure are plain data of plan/ (a plan file stores them); this file
// computes them. The names stay usable here.
using plan::QualityMeasure;
using plan::QualityMetrics;

//! The relative drop of `q` against the receiver's full prefill `full`; 0 or less means as
//! good. For kKl the drop is q.kl() (full prefill has 0). For the higher-is-better measures
//! (accuracy, f1, exact) it is (full - q) / full, or full - q when full is 0.
inline double quality_drop(const QualityMetrics& q, const QualityMetrics& full, QualityMeasure measure) {
  switch (measure) {
    case QualityMeasure::kLoss:
      return full.loss() > 0.0 ? (q.loss() - full.loss()) / full.loss() : q.loss() - full.loss();
    case QualityMeasure::kAccuracy:
      return full.accuracy() > 0.0 ? (full.accuracy() - q.accuracy()) / full.accuracy()
                                   : full.accuracy() - q.accuracy();
    case QualityMeasure::kKl: return q.kl();
    case QualityMeasure::kF1:
      return full.f1() > 0.0 ? (full.f1() - q.f1()) / full.f1() : full.f1() - q.f1();
    case QualityMeasure::kExact:
      return full.exact() > 0.0 ? (full.exact() - q.exact()) / full.exact() : full.exact() - q.exact();
  }
  return 0.0;
}

namespace detail {
// log-softmax of one row, in double.
inline void log_softmax(std::span<const float> logits, std::vector<double>& out) {
  out.resize(logits.size());
  double mx = -INFINITY;
  for (float v : logits) mx = std::max(mx, static_cast<double>(v));
  double sum = 0.0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - mx);
  const double lse = mx + std::log(sum);
  for (std::size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - lse;
}
}  // namespace detail

//! Scores the logits of the m suffix positions. Row j predicts suffix[j + 1] (teacher
//! forcing), so rows 0..m-2 count towards loss and accuracy; every row counts towards KL
//! against `reference_logits` (the receiver's full prefill of the same input), if given.
//! @param logits           [m][vocab]
//! @param suffix           [m] token ids
//! @param reference_logits [m][vocab] or empty
inline Result<QualityMetrics> score_suffix(std::span<const float> logits, std::span<const std::int32_t> suffix,
                                           std::int64_t vocab, std::span<const float> reference_logits) {
  const auto m = static_cast<std::int64_t>(suffix.size());
  if (vocab <= 0 || static_cast<std::int64_t>(logits.size()) != m * vocab ||
      (!reference_logits.empty() && reference_logits.size() != logits.size())) {
    return Status::invalid_argument("score_suffix: logits must be [" + std::to_string(m) + "][" +
                                    std::to_string(vocab) + "], got " + std::to_string(logits.size()) +
                                    " floats (reference " + std::to_string(reference_logits.size()) + ")");
  }
  QualityMetrics q;
  std::vector<double> lp, ref;
  for (std::int64_t j = 0; j < m; ++j) {
    const auto row = logits.subspan(static_cast<std::size_t>(j * vocab), static_cast<std::size_t>(vocab));
    detail::log_softmax(row, lp);
    if (j + 1 < m) {
      const std::int32_t target = suffix[static_cast<std::size_t>(j + 1)];
      if (target < 0 || target >= vocab) {
        return Status::out_of_range("score_suffix: token " + std::to_string(target) + " outside the vocabulary");
      }
      q.loss_sum -= lp[static_cast<std::size_t>(target)];
      const auto best = std::max_element(row.begin(), row.end()) - row.begin();
      q.correct += best == target ? 1.0 : 0.0;
      ++q.predictions;
    }
    if (!reference_logits.empty()) {
      detail::log_softmax(reference_logits.subspan(static_cast<std::size_t>(j * vocab), static_cast<std::size_t>(vocab)), ref);
      double kl = 0.0;
      for (std::int64_t v = 0; v < vocab; ++v) {
        kl += std::exp(ref[static_cast<std::size_t>(v)]) * (ref[static_cast<std::size_t>(v)] - lp[static_cast<std::size_t>(v)]);
      }
      q.kl_sum += std::max(kl, 0.0);
      ++q.kl_rows;
    }
  }
  return q;
}

//! Scores the answer `generated` for task sample `sample` (sample.has_answer()): one answer
//! with its F1 and exact match against sample.answer. A trailing sample.stop_token (where
//! generation stopped) is not part of the answer. Text answers (AnswerKind::kText: tokens are
//! bytes) are scored by score_text_answer, id answers by score_token_answer. A sample
//! without an answer scores nothing (answers == 0).
inline QualityMetrics score_answer(const Sample& sample, std::span<const std::int32_t> generated) {
  QualityMetrics q;
  if (!sample.has_answer()) return q;
  if (!generated.empty() && generated.back() == sample.stop_token) generated = generated.first(generated.size() - 1);
  AnswerScore a;
  if (sample.answer_kind == AnswerKind::kText) {
    std::string prediction, reference;
    // A token that is no byte (a model with extra tokens past 255) separates words.
    auto byte = [](std::int32_t t) { return t >= 0 && t < 256 ? static_cast<char>(static_cast<unsigned char>(t)) : ' '; };
    for (std::int32_t t : generated) prediction.push_back(byte(t));
    for (std::int32_t t : sample.answer) reference.push_back(byte(t));
    a = score_text_answer(prediction, reference);
  } else {
    a = score_token_answer(generated, sample.answer);
  }
  q.f1_sum = a.f1;
  q.exact_sum = a.exact;
  q.answers = 1;
  return q;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::profile
