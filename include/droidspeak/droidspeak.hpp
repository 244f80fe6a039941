// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Single-include umbrella for the host library: every header of core/, layout/,
//! plan/, prefill/, profile/ and serving/.
//!
//! Host-only: it needs no CUDA header and no third-party library, so it compiles with any
//! C++20 compiler against `droidspeak::droidspeak` alone. Not included here, because each
//! brings its own dependency and CMake target:
//! - `droidspeak/io/...` (safetensors, config.json): needs nlohmann_json, link
//!   `droidspeak::io`;
//! - the run-artefact files `droidspeak/plan/plan_file.hpp` and
//!   `droidspeak/profile/samples_file.hpp` and `droidspeak/profile/qa_samples_file.hpp`
//!   (JSON, like io/), and
//!   `droidspeak/profile/plan_choice.hpp` (over plan files): link `droidspeak::io`;
//! - `droidspeak/reference/...` (the CPU engine): needs CBLAS, link `droidspeak::reference`;
//! - `droidspeak/cuda/...` (launcher declarations): link `droidspeak::kernels`.
//! Include those headers separately. The list below is maintained by hand; the hygiene
//! test `hygiene/umbrella-complete` fails when a header of those folders is missing here
//! (but those that include an io/ header: they need droidspeak::io).
#pragma once

#include "droidspeak/core/aligned_vector.hpp"
#include "droidspeak/core/concepts.hpp"
#include "droidspeak/core/config.hpp"
#include "droidspeak/core/cpu_relax.hpp"
#include "droidspeak/core/dispatch.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/simd_level.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/core/version.hpp"
#include "droidspeak/layout/any_layout.hpp"
#include "droidspeak/layout/checked_math.hpp"
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/deviation.hpp"
#include "droidspeak/layout/e_cache_layout.hpp"
#include "droidspeak/layout/fast_divmod.hpp"
#include "droidspeak/layout/finite.hpp"
#include "droidspeak/layout/geometry.hpp"
#include "droidspeak/layout/head_order.hpp"
#include "droidspeak/layout/kv_addressing.hpp"
#include "droidspeak/layout/kv_token_map.hpp"
#include "droidspeak/layout/layer_set.hpp"
#include "droidspeak/layout/operations.hpp"
#include "droidspeak/layout/paged_layout.hpp"
#include "droidspeak/layout/quantize.hpp"
#include "droidspeak/layout/rope.hpp"
#include "droidspeak/layout/row_ops.hpp"
#include "droidspeak/layout/token_range.hpp"
#include "droidspeak/layout/transfer_layout.hpp"
#include "droidspeak/layout/view.hpp"
#include "droidspeak/plan/candidates.hpp"
#include "droidspeak/plan/compatibility.hpp"
#include "droidspeak/plan/cost_model.hpp"
#include "droidspeak/plan/guard_thresholds.hpp"
#include "droidspeak/plan/pareto.hpp"
#include "droidspeak/plan/profile_cost.hpp"
#include "droidspeak/plan/quality_measure.hpp"
#include "droidspeak/plan/reuse_plan.hpp"
#include "droidspeak/plan/runtime_policy.hpp"
#include "droidspeak/prefill/decode.hpp"
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/prefill/execution.hpp"
#include "droidspeak/prefill/no_throw.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/prefill/quality_guard.hpp"
#include "droidspeak/prefill/schedule.hpp"
#include "droidspeak/prefill/sender_caches.hpp"
#include "droidspeak/prefill/sequential_driver.hpp"
#include "droidspeak/prefill/threaded_driver.hpp"
#include "droidspeak/prefill/transport.hpp"
#include "droidspeak/profile/answer_score.hpp"
#include "droidspeak/profile/cost.hpp"
#include "droidspeak/profile/cost_calibration.hpp"
#include "droidspeak/profile/guard_calibration.hpp"
#include "droidspeak/profile/link_calibration.hpp"
#include "droidspeak/profile/paired_timing.hpp"
#include "droidspeak/profile/profiler.hpp"
#include "droidspeak/profile/quality.hpp"
#include "droidspeak/profile/sample.hpp"
#include "droidspeak/serving/arrivals.hpp"
#include "droidspeak/serving/latency_summary.hpp"
#include "droidspeak/serving/link_timeline.hpp"
#include "droidspeak/serving/queue_load.hpp"
