// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file What a plan's quality is measured in: the summed metrics of one plan over the
//! profiling samples and the measure a quality drop is taken from, with its names. Plain
//! data, so that plan/ (and the plan file) can hold measurements without the profiler;
//! profile/quality.hpp computes them.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace plan {

//! Sums over predictions; divide through the accessors. Merge samples by adding.
struct QualityMetrics {
  double loss_sum = 0.0;       //!< sum of -log p(next suffix token), nats
  double correct = 0.0;        //!< predictions whose argmax is the next suffix token
  std::int64_t predictions = 0;
  double kl_sum = 0.0;         //!< sum over rows of KL(full prefill || this), nats
  std::int64_t kl_rows = 0;
  double f1_sum = 0.0;         //!< sum over generated answers of their F1 (profile/answer_score.hpp)
  double exact_sum = 0.0;      //!< generated answers that match their reference exactly
  std::int64_t answers = 0;    //!< generated answers scored (task samples only)

  double loss() const { return predictions == 0 ? 0.0 : loss_sum / static_cast<double>(predictions); }
  double accuracy() const { return predictions == 0 ? 0.0 : correct / static_cast<double>(predictions); }
  double kl() const { return kl_rows == 0 ? 0.0 : kl_sum / static_cast<double>(kl_rows); }
  double f1() const { return answers == 0 ? 0.0 : f1_sum / static_cast<double>(answers); }
  double exact() const { return answers == 0 ? 0.0 : exact_sum / static_cast<double>(answers); }

  QualityMetrics& operator+=(const QualityMetrics& o) {
    loss_sum += o.loss_sum;
    correct += o.correct;
    predictions += o.predictions;
    kl_sum += o.kl_sum;
    kl_rows += o.kl_rows;
    f1_sum += o.f1_sum;
    exact_sum += o.exact_sum;
    answers += o.answers;
    return *this;
  }
};

//! Which number a quality drop is computed from (profile::quality_drop computes it).
enum class QualityMeasure : std::uint8_t {
  kLoss,      //!< (loss - loss_full) / loss_full
  kAccuracy,  //!< (accuracy_full - accuracy) / accuracy_full
  kKl,        //!< KL to the full prefill itself, in nats (already a drop: 0 for full prefill)
  kF1,        //!< (f1_full - f1) / f1_full: F1 of greedily generated answers (task samples)
  kExact,     //!< (exact_full - exact) / exact_full: exact-match rate of those answers
};

//! Whether the measure scores generated answers, so needs task samples (with answers).
constexpr bool needs_answers(QualityMeasure m) { return m == QualityMeasure::kF1 || m == QualityMeasure::kExact; }

//! The measure's name as written in plan files and on the command line: "loss", "accuracy",
//! "kl", "f1" or "exact".
constexpr std::string_view to_string(QualityMeasure m) {
  switch (m) {
    case QualityMeasure::kLoss: return "loss";
    case QualityMeasure::kAccuracy: return "accuracy";
    case QualityMeasure::kKl: return "kl";
    case QualityMeasure::kF1: return "f1";
    case QualityMeasure::kExact: return "exact";
  }
  return "unknown";
}

//! The measure named `name` (exactly as to_string writes it). An unknown name fails with
//! kErrorInvalidArgument listing the valid ones: "measure 'bleu' is not loss, accuracy, kl, f1
//! or exact".
inline Result<QualityMeasure> parse_quality_measure(std::string_view name) {
  for (QualityMeasure m : {QualityMeasure::kLoss, QualityMeasure::kAccuracy, QualityMeasure::kKl, QualityMeasure::kF1,
                           QualityMeasure::kExact}) {
    if (name == to_string(m)) return m;
  }
  return Status::invalid_argument("measure '" + std::string(name) + "' is not loss, accuracy, kl, f1 or exact");
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::plan
