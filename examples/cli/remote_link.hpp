// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The receiver's end of `droidspeak run --remote`: one UCX connection to a
//! `droidspeak serve`, and per partial prefill one request (context hash, sender fingerprint,
//! what the plan needs) whose chunks the pipelined partial prefill fetches as its transport.
//! Without droidspeak::ucx (DROIDSPEAK_CLI_UCX undefined) connecting says so.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "common.hpp"
#include "remote.hpp"
#include "droidspeak/prefill/partial_prefill.hpp"
#if defined(DROIDSPEAK_CLI_UCX)
#include "droidspeak/transfer/ucx_transport.hpp"
#endif

namespace droidspeak_cli {

//! A receiver's connection to a remote sender for one context, one plan.
class RemoteLink {
 public:
  //! Connects to the sender at `at` (the connection completes in the background: a sender that
  //! is not there shows as the first prefill's failure). `timeout` bounds every wait.
  static Result<RemoteLink> connect(const Endpoint& at, std::chrono::milliseconds timeout,
                                    const std::string& transports, const ds::layout::ModelGeometry& g,
                                    const ds::plan::ReusePlan& plan, std::int64_t context_tokens) {
#if defined(DROIDSPEAK_CLI_UCX)
    RemoteLink link;
    Result<RemoteSenderViews> views = RemoteSenderViews::reserve(g, plan, context_tokens);
    if (!views) return views.status();
    link.views_ = std::move(views).value();
    Result<std::unique_ptr<ds::transfer::UcxReceiver>> r =
        ds::transfer::UcxReceiver::connect(at.host, at.port, {timeout, transports});
    if (!r) return r.status();
    link.receiver_ = std::move(r).value();
    return link;
#else
    (void)at, (void)timeout, (void)transports, (void)g, (void)plan, (void)context_tokens;
    return Status::not_supported("--remote: this droidspeak was built without UCX (install libucx-dev)");
#endif
  }

  //! Asks the sender for `context`'s caches as made by the model `fingerprint` and runs the
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
