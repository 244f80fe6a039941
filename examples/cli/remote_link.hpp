// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The receiver's end of `droidspeak run --remote`: one UCX connection to a
//! `droidspeak serve`, and per partial prefill one request (context hash, sender fingerprint,
//! what the plan needs) whose chunks the pipelined partial prefill fetches as its transport;
//! before them, the link measured through the same path (calibrate()).
//! Without droidspeak::ucx (DROIDSPEAK_CLI_UCX undefined) connecting says so.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "remote.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"
#include "droidspeak/profile/link_calibration.hpp"
#if defined(DROIDSPEAK_CLI_UCX)
#include "droidspeak/transfer/ucx_transport.hpp"
#endif

namespace droidspeak_cli {

//! A receiver's connection to a remote sender for one context, one plan.
class RemoteLink {
 public:
  //! Connects to the sender at `at` (the connection completes in the background: a sender that
  //! is not there shows as the first request's failure). `timeout` bounds every wait.
  static Result<RemoteLink> connect(const Endpoint& at, std::chrono::milliseconds timeout,
                                    const std::string& transports) {
#if defined(DROIDSPEAK_CLI_UCX)
    RemoteLink link;
    Result<std::unique_ptr<ds::transfer::UcxReceiver>> r =
        ds::transfer::UcxReceiver::connect(at.host, at.port, {timeout, transports});
    if (!r) return r.status();
    link.receiver_ = std::move(r).value();
    return link;
#else
    (void)at, (void)timeout, (void)transports;
    return Status::not_supported("--remote: this droidspeak was built without UCX (install libucx-dev)");
#endif
  }

  //! Measures the link as the prefill will use it (profile::measure_link): each round asks the
  //! sender for `context`'s caches made by the model `fingerprint` and fetches, in the
  //! schedule's order, E entering layers 1 and 2 and the KV of layers 0 to 3 (fewer on a
  //! shallower model): chunks of both of the schedule's sizes, so that the fit separates the
  //! per-chunk latency from the bandwidth. A failure (a miss, a dead sender) says why, as a
  //! prefill's would.
  Result<ds::profile::LinkCalibration> calibrate(const ds::layout::ModelGeometry& g,
                                                 std::span<const std::int32_t> context, std::uint64_t fingerprint,
                                                 const ds::profile::LinkCalibrationOptions& options) {
#if defined(DROIDSPEAK_CLI_UCX)
    const auto n = static_cast<std::int64_t>(context.size());
    const ds::prefill::ChunkSizes sizes = ds::prefill::chunk_sizes(g, n, ds::DType::kF32, ds::DType::kF32);
    std::vector<ds::profile::LinkChunk> chunks;
    ds::transfer::Needs needs;
    for (std::int64_t l = 1; l <= std::min<std::int64_t>(2, g.num_layers - 1); ++l) {
      chunks.push_back({{ds::prefill::Payload::kE, l}, sizes.e_bytes});
      needs.e_layers.insert(l);
    }
    for (std::int64_t l = 0; l <= std::min<std::int64_t>(3, g.num_layers - 1); ++l) {
      chunks.push_back({{ds::prefill::Payload::kKv, l}, sizes.kv_bytes});
      needs.kv_layers.insert(l);
    }
    const std::uint64_t hash = ds::transfer::context_hash(context);
    return ds::profile::measure_link(
        *receiver_, chunks, [&] { return receiver_->request(hash, fingerprint, needs); }, options);
#else
    (void)g, (void)context, (void)fingerprint, (void)options;
    return Status::not_supported("--remote: built without UCX");
#endif
  }

  //! Reserves the stand-in views of the sender's caches for `plan` over `context_tokens`
  //! tokens (RemoteSenderViews): once, before the first partial_prefill().
  Status prepare(const ds::layout::ModelGeometry& g, const ds::plan::ReusePlan& plan, std::int64_t context_tokens) {
#if defined(DROIDSPEAK_CLI_UCX)
    Result<RemoteSenderViews> views = RemoteSenderViews::reserve(g, plan, context_tokens);
    if (!views) return views.status();
    views_ = std::move(views).value();
    return Status::ok();
#else
    (void)g, (void)plan, (void)context_tokens;
    return Status::not_supported("--remote: built without UCX");
#endif
  }

  //! After prepare(g, plan, n): asks the sender for `context`'s caches as made by the model `fingerprint` and runs the
  //! receiver's pipelined partial prefill of `plan` with them (prefill::streamed_partial_prefill
  //! with the UCX receiver as its transport). On any failure (a miss, a fingerprint mismatch, a
  //! timeout, a corrupt chunk, the sender's death) the Status says why and the receiver's cache
  //! and `logits` must not be used.
  Status partial_prefill(ds::reference::Engine& receiver, const ds::plan::ReusePlan& plan,
                         std::span<const std::int32_t> context, std::uint64_t fingerprint,
                         std::span<const std::int32_t> prompt, std::span<float> logits,
                         ds::prefill::PrefillReport* report) {
#if defined(DROIDSPEAK_CLI_UCX)
    DROIDSPEAK_TRY(receiver_->request(ds::transfer::context_hash(context), fingerprint,
                                      ds::transfer::Needs::of(plan)));
    ds::transfer::UcxReceiver& transport = *receiver_;
    return ds::prefill::streamed_partial_prefill(receiver, plan, context, views_.caches(), transport,
                                                 ds::prefill::Overlap::kPipelined, prompt, logits, report);
#else
    (void)receiver, (void)plan, (void)context, (void)fingerprint, (void)prompt, (void)logits, (void)report;
    return Status::not_supported("--remote: built without UCX");
#endif
  }

 private:
#if defined(DROIDSPEAK_CLI_UCX)
  RemoteSenderViews views_;
  std::unique_ptr<ds::transfer::UcxReceiver> receiver_;
#endif
};

}  // namespace droidspeak_cli
