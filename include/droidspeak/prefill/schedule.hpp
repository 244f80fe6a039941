// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The partial prefill's schedule as plain data: which bytes cross the link, which
//! layers are adopted and recomputed, in which order, and what each step waits for. Every
//! driver (sequential host, threaded host, and later CUDA streams or a network) runs the same
//! list; only how a driver overlaps its two lanes differs.
//!
//! How the schedule maps onto drivers. Steps belong to one of two lanes and each lane runs its
//! steps in list order. A step with `waits_for >= 0` must not start before step `waits_for`
//! (always an earlier step, usually of the other lane) has completed; since a lane is ordered,
//! that also covers every earlier step of that lane.
//! - Sequential host driver: runs the list front to back on one thread (every transfer-lane
//!   step precedes every compute-lane step in the list, so every dependency is already met).
//! - Threaded host driver: one thread per lane; the compute thread blocks on a condition
//!   variable until `waits_for` has completed (or the transfer lane has failed).
//! - CUDA (copy stream + compute stream): kSendE and kSendKv are cudaMemcpyAsync on the copy
//!   stream (host or peer memory into device landing buffers of `bytes`); kAdopt is the
//!   layout-conversion kernel (gather/scatter into the paged cache) launched on the copy stream
//!   right after its send. Record one cudaEvent after every transfer-lane step that some
//!   compute step names in `waits_for` (the kSendE of each interval's entry, the last transfer
//!   step). The compute stream issues, in list order, cudaStreamWaitEvent(compute, event of
//!   waits_for) and then the kernels of kRecompute (layers [first_layer, last_layer] over
//!   `tokens` rows, from the landed E or the receiver's embeddings, the last one K/V-only when
//!   `kv_only_last` and the engine can) and kSuffix. No host synchronisation is needed until
//!   the suffix's logits are read.
//! - Network driver: the sender streams the transfer-lane sends in list order as framed
//!   chunks (tag = kind + layer, length = `bytes`); the receiver adopts each KV chunk as it
//!   arrives and releases the compute lane's waits as the E chunks land. The list itself is
//!   the wire protocol's order: both ends compute it from the same plan, so no step needs to
//!   be negotiated.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/geometry.hpp"
#include "droidspeak/plan/reuse_plan.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace prefill {

//! Which side of the receiver runs a step.
enum class Lane : std::uint8_t {
  kTransfer,  //!< moving the sender's bytes and adopting them into the cache
  kCompute,   //!< running the receiver's layers
};

enum class StepKind : std::uint8_t {
  kSendE,      //!< E rows entering `first_layer` cross the link (transfer lane)
  kSendKv,     //!< K and V of `first_layer` cross the link (transfer lane)
  kAdopt,      //!< the landed KV of `first_layer` is converted into the receiver's cache
  kRecompute,  //!< layers [first_layer, last_layer] run over the context from E[first_layer]
               //!< (from the receiver's own embeddings when first_layer == 0); the hidden
               //!< state after last_layer is discarded (see ScheduleStep::kv_only_last)
  kSuffix,     //!< the n context positions are declared valid, then the suffix (m rows,
               //!< possibly none) runs through every layer over the assembled cache
};

//! No dependency besides the order of the step's own lane.
inline constexpr std::int64_t kNoStep = -1;

struct ScheduleStep {
  StepKind kind = StepKind::kRecompute;
  Lane lane = Lane::kCompute;
  std::int64_t first_layer = 0;
  std::int64_t last_layer = 0;     //!< inclusive; == first_layer for sends and adoptions
  std::int64_t tokens = 0;         //!< rows: n for context steps, m for the suffix
  std::int64_t bytes = 0;          //!< sends: bytes crossing the link; kAdopt: KV bytes read into
                                   //!< the cache; kRecompute from E: E bytes consumed; else 0
  std::int64_t waits_for = kNoStep;  //!< index of a step that must have completed first
  //! kRecompute: last_layer only has to write its K and V (its attention output and MLP feed
  //! nothing), so a driver runs it K/V-only where the engine can (prefill::KvOnlyEngine,
  //! cuda::KvOnlyDeviceEngine) and in full otherwise, with the same cache either way.
  //! False for every other kind.
  bool kv_only_last = false;
  friend bool operator==(const ScheduleStep&, const ScheduleStep&) = default;
};

//! The bytes of one layer's chunk for n context tokens.
struct ChunkSizes {
  std::int64_t e_bytes = 0;   //!< one entry layer's E rows: n * hidden * sizeof(E dtype)
  std::int64_t kv_bytes = 0;  //!< one layer's K and V: 2 * n * kv_heads * head_dim * sizeof(KV dtype)
};

//! The chunk sizes of n tokens of `g` with E in `e_dtype` and KV in `kv_dtype`.
inline ChunkSizes chunk_sizes(const layout::ModelGeometry& g, std::int64_t n, DType e_dtype, DType kv_dtype) {
  return {n * g.hidden_size * dtype_size(e_dtype), 2 * n * g.kv_row_elements() * dtype_size(kv_dtype)};
}

//! A partial prefill's steps in a valid sequential order: kSendE for every entry layer
//! (ascending), then kSendKv followed by kAdopt for every reused layer (ascending), then
//! kRecompute for every interval (ascending), then kSuffix (always, even for m == 0). KV of recomputed layers
//! is never sent; E is sent only for the layers an interval enters from (not layer 0).
//! Dependencies: kAdopt waits for its kSendKv; kRecompute [s, e] with s > 0 waits for the
//! kSendE of s; kSuffix waits for the last transfer-lane step (every adoption done).
//! Every kRecompute step is marked kv_only_last: the hidden state after an interval is never
//! read. The next layer adopts the sender's KV or is entered from the sender's E, the suffix
//! enters layer 0 from its own embeddings, and a partial prefill produces no logits of the
//! context (its last_logits are the suffix's), so this holds for an interval ending at the
//! model's last layer too.
struct Schedule {
  std::int64_t num_layers = 0;
  std::int64_t context_tokens = 0;  //!< n
  std::int64_t suffix_tokens = 0;   //!< m
  std::vector<ScheduleStep> steps;

  //! The index of the last step of `lane`, or kNoStep when it has none.
  std::int64_t last_of(Lane lane) const {
    for (std::size_t i = steps.size(); i-- > 0;) {
      if (steps[i].lane == lane) return static_cast<std::int64_t>(i);
    }
    return kNoStep;
  }
};

//! Builds the schedule of `plan` for n context and m suffix tokens of a model of geometry `g`.
//! Fails when the plan is for another layer count, n < 1, m < 0 or a chunk size is negative.
inline Result<Schedule> make_schedule(const plan::ReusePlan& plan, const layout::ModelGeometry& g,
                                      std::int64_t n, std::int64_t m, ChunkSizes chunks) {
  if (plan.num_layers() != g.num_layers) {
    return Status::invalid_argument("schedule: plan for " + std::to_string(plan.num_layers()) +
                                    " layers, model has " + std::to_string(g.num_layers));
  }
  if (n < 1 || m < 0) {
    return Status::invalid_argument("schedule: need n >= 1 context and m >= 0 suffix tokens, got " +
                                    std::to_string(n) + " and " + std::to_string(m));
  }
  if (chunks.e_bytes < 0 || chunks.kv_bytes < 0) {
    return Status::invalid_argument("schedule: negative chunk size");
  }
  Schedule s{g.num_layers, n, m, {}};
  auto add = [&s](const ScheduleStep& step) {
    s.steps.push_back(step);
    return static_cast<std::int64_t>(s.steps.size()) - 1;
  };
  std::vector<std::int64_t> e_step(static_cast<std::size_t>(g.num_layers), kNoStep);
  const layout::LayerSet entries = plan.entry_layers();
  for (std::int64_t i = 0; i < entries.count(); ++i) {
    const std::int64_t l = entries.nth(i);
    e_step[static_cast<std::size_t>(l)] = add({StepKind::kSendE, Lane::kTransfer, l, l, n, chunks.e_bytes, kNoStep});
  }
  const layout::LayerSet reused = plan.reused();
  for (std::int64_t i = 0; i < reused.count(); ++i) {
    const std::int64_t l = reused.nth(i);
    const std::int64_t sent = add({StepKind::kSendKv, Lane::kTransfer, l, l, n, chunks.kv_bytes, kNoStep});
    add({StepKind::kAdopt, Lane::kTransfer, l, l, n, chunks.kv_bytes, sent});
  }
  const std::int64_t last_transfer = s.last_of(Lane::kTransfer);
  for (const plan::LayerInterval& v : plan.intervals()) {
    const bool from_e = v.first > 0;
    add({StepKind::kRecompute, Lane::kCompute, v.first, v.last, n, from_e ? chunks.e_bytes : 0,
         from_e ? e_step[static_cast<std::size_t>(v.first)] : kNoStep, true});
  }
  add({StepKind::kSuffix, Lane::kCompute, 0, g.num_layers - 1, m, 0, last_transfer});
  return s;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::prefill
