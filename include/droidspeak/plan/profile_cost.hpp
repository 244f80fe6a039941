// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file What measuring plans cost, every pass counted: the sender's prefill with E capture,
//! the receiver's reference prefill, context recomputation and suffix evaluation, in
//! layer-token passes (deterministic) and wall time. Plain data: the profiler fills it
//! (profile/cost.hpp), the plan file stores it (plan_file.hpp).
#pragma once

#include "droidspeak/core/config.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace plan {

//! One component of the cost: layer-token passes (one layer over one token) and the wall
//! time spent on them, data movement they needed (KV adoption, copies) included.
struct PassCount {
  std::int64_t layer_token_passes = 0;
  double seconds = 0.0;

  PassCount& operator+=(const PassCount& o) {
    layer_token_passes += o.layer_token_passes;
    seconds += o.seconds;
    return *this;
  }
};

//! The whole cost of measuring a set of plans over samples.
struct ProfileCost {
  PassCount sender_prefill;     //!< the sender's prefill of each context, capturing E
  PassCount reference_prefill;  //!< the receiver's own full prefill of each context + suffix
  PassCount context_recompute;  //!< receiver layers run over context tokens for the plans
  PassCount suffix;             //!< receiver layers run over suffix tokens for the plans
  //! One full prefill of context + suffix, summed over the samples: L * sum(n + m). The unit
  //! of prefills().
  std::int64_t full_prefill_passes = 0;
  bool timed = false;  //!< false: the passes are a count of what would run, no time measured

  PassCount total() const {
    PassCount t = sender_prefill;
    t += reference_prefill;
    t += context_recompute;
    t += suffix;
    return t;
  }
  //! `c` in full-prefill equivalents (layer-token passes / full_prefill_passes).
  double prefills(const PassCount& c) const {
    return full_prefill_passes == 0 ? 0.0
                                    : static_cast<double>(c.layer_token_passes) /
                                          static_cast<double>(full_prefill_passes);
  }
  double prefills() const { return prefills(total()); }

  //! The wall time as a multiple of the receiver's reference prefill timed in the same run
  //! (which is exactly one full prefill of the samples): a ratio to a baseline measured
  //! alongside, not seconds that mean nothing on another machine or load. 0 when untimed.
  double wall_prefills() const {
    return timed && reference_prefill.seconds > 0.0 ? total().seconds / reference_prefill.seconds : 0.0;
  }

  //! One line: "12.34 prefills (sender 1.00, reference 1.00, context 4.56, suffix 5.78)", and
  //! when timed "; wall time 13.02 reference prefills" (wall_prefills()).
  std::string describe() const {
    char b[256];
    std::snprintf(b, sizeof b, "%.2f prefills (sender %.2f, reference %.2f, context %.2f, suffix %.2f)",
                  prefills(), prefills(sender_prefill), prefills(reference_prefill), prefills(context_recompute),
                  prefills(suffix));
    std::string out = b;
    if (timed && reference_prefill.seconds > 0.0) {
      std::snprintf(b, sizeof b, "; wall time %.2f reference prefills", wall_prefills());
      out += b;
    }
    return out;
  }
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::plan
