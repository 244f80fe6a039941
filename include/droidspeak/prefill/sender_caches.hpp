// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The sender's side of a partial prefill: its prefill with E capture, what it hands
//! over (`SenderCaches`, views), and `SenderCacheBuffers`, which owns the E and transfer-KV
//! buffers sized from a plan so callers need no layout arithmetic or casts of their own.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/dtype.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/plan/reuse_plan.hpp"
#include "droidspeak/prefill/engine.hpp"
#include "droidspeak/prefill/no_throw.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>  // std::make_unique_for_overwrite
#include <span>
#include <string>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace prefill {

//! What the sender hands over for one context of n tokens: its KV (every reused layer,
//! tokens [0, n), any layout and dtype the receiver's cache can convert from) and its E cache
//! (at least the plan's entry layers, tokens [0, n), any dtype).
struct SenderCaches {
  layout::ConstKvView kv;
  layout::ConstEView e;
};

//! The sender's side: a full prefill of `context` that captures the residual stream entering
//! the layers of `e_out.layout.entry_layers` into `e_out` (rows [0, n)). Afterwards the
//! sender's kv_cache() holds its KV for every layer.
//! @param e_out [entries][>= n][hidden] host buffer, any dtype; may be an empty view
//!              (data == nullptr) when no E is needed.
template <Engine E>
Status sender_prefill(E& sender, std::span<const std::int32_t> context, const layout::EView& e_out) {
  const layout::ModelGeometry g = sender.geometry();
  const auto n = static_cast<std::int64_t>(context.size());
  DROIDSPEAK_TRY(sender.reset());
  DROIDSPEAK_TRY(sender.reserve(n));
  std::vector<float> h(static_cast<std::size_t>(n * g.hidden_size));
  DROIDSPEAK_TRY(sender.embed(context, h));
  return sender.run_layers(0, g.num_layers, 0, n, h, e_out.data == nullptr ? nullptr : &e_out);
}

//! Which layers the owned buffers cover.
enum class SenderLayers : std::uint8_t {
  kPlan,  //!< E for the plan's entry layers, KV of its reused layers: what one plan needs
  kAll,   //!< E entering and KV of every layer: any plan of the model (a profiler scoring many)
};

//! Where the KV that SenderCacheBuffers::caches() hands out lives.
enum class SenderKv : std::uint8_t {
  kTransferCopy,  //!< copied into an owned buffer in the transfer layout (streamable; stays
                  //!< valid while the sender engine runs other contexts)
  kEngineCache,   //!< the sender engine's own cache, no copy (direct partial prefill only;
                  //!< valid until the sender's next reset() or reserve())
};

struct SenderCacheOptions {
  SenderLayers layers = SenderLayers::kPlan;
  SenderKv kv = SenderKv::kTransferCopy;
  DType dtype = DType::kF32;  //!< of the owned E and transfer-KV buffers
};

//! The sender's caches for one context, owned: runs the sender's prefill with E capture and
//! keeps the E cache ([entries][n][hidden]) and, with SenderKv::kTransferCopy, the KV in the
//! transfer layout ([L][K,V][n][kv_heads][head_dim], NHD; only the covered layers are
//! written, the others are left unset and must not be read). Movable; views stay valid
//! across moves (the buffers are heap blocks).
class SenderCacheBuffers {
 public:
  SenderCacheBuffers() = default;

  //! Prefills `context` (n >= 1 tokens) on `sender` and captures what `plan` (or, with
  //! SenderLayers::kAll, any plan) needs. Engine failures, exceptions and failed allocations
  //! come back as a Status.
  template <Engine E>
  static Result<SenderCacheBuffers> prefill(E& sender, const plan::ReusePlan& plan,
                                            std::span<const std::int32_t> context,
                                            const SenderCacheOptions& options = {}) {
    return detail::no_throw("sender caches", [&] { return prefill_or_throw(sender, plan, context, options); });
  }

  //! The views to pass to partial_prefill / streamed_partial_prefill. With
  //! SenderKv::kEngineCache, `kv` is the sender engine's cache (see SenderKv).
  SenderCaches caches() const {
    SenderCaches c;
    c.kv = kv_;
    if (kv_owned_) c.kv = layout::ConstKvView(kv_owned_.get(), options_.dtype, kv_.layout);
    if (e_owned_) c.e = layout::ConstEView(e_owned_.get(), options_.dtype, e_layout_);
    return c;
  }
  const layout::ECacheLayout& e_layout() const { return e_layout_; }
  std::int64_t num_tokens() const { return e_layout_.num_tokens; }

 private:
  template <Engine E>
  static Result<SenderCacheBuffers> prefill_or_throw(E& sender, const plan::ReusePlan& plan,
                                                     std::span<const std::int32_t> context,
                                                     const SenderCacheOptions& options) {
    const layout::ModelGeometry g = sender.geometry();
    const auto n = static_cast<std::int64_t>(context.size());
    if (plan.num_layers() != g.num_layers) {
      return Status::invalid_argument("sender caches: plan for " + std::to_string(plan.num_layers()) +
                                      " layers, sender has " + std::to_string(g.num_layers));
    }
    if (n < 1) return Status::invalid_argument("sender caches: empty context");
    if (!is_valid(options.dtype)) return Status::invalid_argument("sender caches: invalid dtype");
    const bool all = options.layers == SenderLayers::kAll;
    SenderCacheBuffers out;
    out.options_ = options;
    out.e_layout_ = {all ? layout::LayerSet::all(g.num_layers) : plan.entry_layers(), n, g.hidden_size};
    layout::EView e_view;
    if (!out.e_layout_.entry_layers.empty()) {
      out.e_owned_ = std::make_unique_for_overwrite<std::byte[]>(
          static_cast<std::size_t>(out.e_layout_.pool_elements() * dtype_size(options.dtype)));
      e_view = layout::EView(out.e_owned_.get(), options.dtype, out.e_layout_);
    }
    DROIDSPEAK_TRY(sender_prefill(sender, context, e_view).with_context("sender caches: sender prefill"));
    if (options.kv == SenderKv::kEngineCache) {
      out.kv_ = sender.kv_cache();
      return out;
    }
    const layout::TransferLayout tl{g.num_layers, n, g.num_kv_heads, g.head_dim, layout::HeadOrder::kNHD};
    out.kv_owned_ = std::make_unique_for_overwrite<std::byte[]>(
        static_cast<std::size_t>(tl.pool_elements() * dtype_size(options.dtype)));
    const layout::KvView kv(out.kv_owned_.get(), options.dtype, tl);
    const layout::LayerSet layers = all ? layout::LayerSet::all(g.num_layers) : plan.reused();
    DROIDSPEAK_TRY(layout::copy_kv({sender.kv_cache(), kv, layers, {0, n}, 0}).with_context("sender caches"));
    out.kv_ = kv;
    return out;
  }

  SenderCacheOptions options_;
  layout::ECacheLayout e_layout_{};
  std::unique_ptr<std::byte[]> e_owned_;
  std::unique_ptr<std::byte[]> kv_owned_;
  layout::ConstKvView kv_;  //!< its layout (and, for kEngineCache, its data)
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::prefill
