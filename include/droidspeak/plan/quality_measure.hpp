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

  double loss() const { return predictions == 0 ? 0.0 : loss_sum / static_cast<double>(predictions); }
  double accuracy() const { return predictions == 0 ? 0.0 : correct / static_cast<double>(predictions); }
  double kl() const { return kl_rows == 0 ? 0.0 : kl_sum / static_cast<double>(kl_rows); }

  QualityMetrics& operator+=(const QualityMetrics& o) {
    loss_sum += o.loss_sum;
    correct += o.correct;
    predictions += o.predictions;
    kl_sum += o.kl_sum;
    kl_rows += o.kl_rows;
    return *this;
  }
};

//! Which number a quality drop is computed from (profile::quality_drop computes it).
enum class QualityMeasure : std::uint8_t {
  kLoss,      //!< (loss - loss_full) / loss_full
  kAccuracy,  //!< (accuracy_full - accuracy) / accuracy_full
  kKl,        //!< KL to the full prefill itself, in nats (already a drop: 0 for full prefill)
};

//! The measure's name as written in plan files and on the command line: "loss", "accuracy"
//! or "kl".
constexpr std::string_view to_string(QualityMeasure m) {
  switch (m) {
    case QualityMeasure::kLoss: return "loss";
    case QualityMeasure::kAccuracy: return "accuracy";
    case QualityMeasure::kKl: return "kl";
  }
  return "unknown";
}

//! The measure named `name` (exactly as to_string writes it). An unknown name fails with
//! kErrorInvalidArgument listing the valid ones: "measure 'bleu' is not loss, accuracy or kl".
inline Result<QualityMeasure> parse_quality_measure(std::string_view name) {
  for (QualityMeasure m : {QualityMeasure::kLoss, QualityMeasure::kAccuracy, QualityMeasure::kKl}) {
    if (name == to_string(m)) return m;
  }
  return Status::invalid_argument("measure '" + std::string(name) + "' is not loss, accuracy or kl");
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::plan
