// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file `HostEngineAdapter`: a cuda::DeviceEngine seen as a host prefill::Engine, so the
//! host drivers (prefill::partial_prefill, full_prefill) run the very same device model and
//! their cache can be compared byte for byte with the CUDA driver's. Every call is
//! synchronous on one stream; the cache is mirrored in host memory (kv_cache() is the host
//! mirror, with a host copy of the block table), uploaded before and downloaded after every
//! device call, so the host primitives' adoption lands in the device cache.
#pragma once

#include "droidspeak/core/status.hpp"
#include "droidspeak/cuda/device_engine.hpp"
#include "droidspeak/cuda/stream_ops.hpp"
#include "droidspeak/layout/view.hpp"
#include "droidspeak/prefill/engine.hpp"

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace droidspeak::test {

//! Wraps a DeviceEngine whose kv_cache() is a block-table layout (the toy engine's).
template <cuda::DeviceEngine D>
class HostEngineAdapter {
 public:
  static constexpr bool kDeterministicSpans = prefill::is_deterministic<D>();

  HostEngineAdapter(D& device, cudaStream_t stream) : d_(device), s_(stream) {}

  layout::ModelGeometry geometry() const { return d_.geometry(); }
  std::int64_t vocab_size() const { return d_.vocab_size(); }
  std::int64_t num_tokens() const { return d_.num_tokens(); }
  std::int64_t capacity() const { return d_.capacity(); }
  Status reset() { return d_.reset(); }
  Status set_num_tokens(std::int64_t n) { return d_.set_num_tokens(n); }
  Status reserve(std::int64_t n) {
    DROIDSPEAK_TRY(d_.reserve(n));
    const layout::KvView v = d_.kv_cache();
    table_.resize(static_cast<std::size_t>(v.layout.block_table.num_blocks));
    DROIDSPEAK_TRY(cu(cudaMemcpy(table_.data(), v.layout.block_table.block_table,
                                 table_.size() * sizeof(std::int32_t), cudaMemcpyDeviceToHost)));
    return download_cache();
  }
  layout::KvView kv_cache() {
    layout::KvView v = d_.kv_cache();
    v.layout.block_table.block_table = table_.data();
    v.k_data = v.v_data = mirror_.data();
    return v;
  }

  Status embed(std::span<const std::int32_t> tokens, std::span<float> hidden) {
    DROIDSPEAK_TRY(to_device(tokens_, tokens.data(), tokens.size_bytes()));
    DROIDSPEAK_TRY(hidden_.allocate(hidden.size_bytes()));
    DROIDSPEAK_TRY(d_.embed({reinterpret_cast<const std::int32_t*>(tokens_.get()), tokens.size()}, device_rows(hidden.size()), s_));
    return to_host(hidden.data(), hidden_.get(), hidden.size_bytes());
  }

  Status run_layers(std::int64_t first, std::int64_t last, std::int64_t position, std::int64_t n,
                    std::span<float> hidden, const layout::EView* capture) {
    if (capture != nullptr) return Status::not_supported("host engine adapter: no E capture");
    const layout::KvView v = d_.kv_cache();
    DROIDSPEAK_TRY(cu(cudaMemcpyAsync(v.k_data, mirror_.data(), mirror_.size(), cudaMemcpyHostToDevice, s_)));
    DROIDSPEAK_TRY(to_device(hidden_, hidden.data(), hidden.size_bytes()));
    DROIDSPEAK_TRY(d_.run_layers(first, last, position, n, device_rows(hidden.size()), s_));
    DROIDSPEAK_TRY(to_host(hidden.data(), hidden_.get(), hidden.size_bytes()));
    return download_cache();
  }

  Status logits(std::span<const float> hidden, std::span<float> out) {
    DROIDSPEAK_TRY(to_device(hidden_, hidden.data(), hidden.size_bytes()));
    DROIDSPEAK_TRY(out_.allocate(out.size_bytes()));
    const std::span<const float> h(reinterpret_cast<const float*>(hidden_.get()), hidden.size());
    DROIDSPEAK_TRY(d_.logits(h, {reinterpret_cast<float*>(out_.get()), out.size()}, s_));
    return to_host(out.data(), out_.get(), out.size_bytes());
  }

 private:
  static Status cu(cudaError_t e) {
    if (e == cudaSuccess) return Status::ok();
    return Status::cuda_error(std::string("host engine adapter: ") + cudaGetErrorString(e));
  }
  std::span<float> device_rows(std::size_t count) const {
    return {reinterpret_cast<float*>(hidden_.get()), count};
  }
  // Host -> a fresh device buffer, ordered on the stream (the engine's work is on s_).
  Status to_device(cuda::DeviceMemory& dst, const void* src, std::size_t bytes) {
    DROIDSPEAK_TRY(cu(cudaStreamSynchronize(s_)));  // dst may still be read by queued work
    DROIDSPEAK_TRY(dst.allocate(bytes));
    return cu(cudaMemcpyAsync(dst.get(), src, bytes, cudaMemcpyHostToDevice, s_));
  }
  Status to_host(void* dst, const void* src, std::size_t bytes) {
    DROIDSPEAK_TRY(cu(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s_)));
    return cu(cudaStreamSynchronize(s_));
  }
  Status download_cache() {
    const layout::KvView v = d_.kv_cache();
    mirror_.resize(static_cast<std::size_t>(v.pool_bytes()));
    return to_host(mirror_.data(), v.k_data, mirror_.size());
  }

  D& d_;
  cudaStream_t s_;
  std::vector<std::int32_t> table_;
  std::vector<std::byte> mirror_;  //!< the whole pool (fused K and V), as of the last device call
  cuda::DeviceMemory tokens_, hidden_, out_;
};

}  // namespace droidspeak::test
