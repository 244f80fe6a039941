// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file A small Llama-like model on the device that models cuda::DeviceEngine, enough to test
//! and benchmark the CUDA prefill driver: random weights, cuBLAS f32 GEMMs (pedantic math: no
//! TF32) for the projections, and simple deterministic kernels for RMSNorm (no gain), RoPE,
//! causal grouped-query attention over a paged f32 cache, and SwiGLU. Test and benchmark
//! support only: include from one .cu per executable and link CUDA::cublas.
//!
//! Determinism: every kernel reduces in a fixed order and cuBLAS is bit-reproducible for the
//! same shapes on one handle and stream (atomics off), so equal calls give equal bits.
#pragma once

#include "droidspeak/core/status.hpp"
#include "droidspeak/cuda/device_engine.hpp"
#include "droidspeak/cuda/stream_ops.hpp"
#include "droidspeak/layout/paged_layout.hpp"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace droidspeak::test {

//! The model's shape and the cache's capacity (pages are allocated once, for max_tokens).
struct ToyConfig {
  std::int64_t layers = 6;
  std::int64_t hidden = 128;
  std::int64_t q_heads = 4;
  std::int64_t kv_heads = 2;
  std::int64_t head_dim = 32;  // even, at most 128 (one attention block)
  std::int64_t ffn = 256;
  std::int64_t vocab = 512;
  std::int64_t page_size = 16;
  std::int64_t max_tokens = 256;  // attention keeps max_tokens scores in shared memory
};

namespace toy_kernels {
namespace {

constexpr int kThreads = 128;

__global__ void embed_rows(const std::int32_t* tokens, const float* table, std::int64_t vocab,
                           std::int64_t hidden, float* out) {
  const std::int64_t row = blockIdx.x;
  const std::int32_t t = tokens[row];
  for (std::int64_t d = threadIdx.x; d < hidden; d += blockDim.x) {
    out[row * hidden + d] = (t >= 0 && t < vocab) ? table[t * hidden + d] : 0.0f;
  }
}

// out row = in row / sqrt(mean(in^2) + eps): strided partial sums, then a fixed-shape tree.
__global__ void rms_norm_rows(const float* in, float* out, std::int64_t hidden) {
  __shared__ float partial[kThreads];
  const float* x = in + blockIdx.x * hidden;
  float s = 0.0f;
  for (std::int64_t d = threadIdx.x; d < hidden; d += blockDim.x) s += x[d] * x[d];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w) partial[threadIdx.x] += partial[threadIdx.x + w];
    __syncthreads();
  }
  const float scale = rsqrtf(partial[0] / static_cast<float>(hidden) + 1e-5f);
  for (std::int64_t d = threadIdx.x; d < hidden; d += blockDim.x) out[blockIdx.x * hidden + d] = x[d] * scale;
}

__device__ void rotate(float* row, std::int64_t j, std::int64_t half, float pos) {
  const float freq = powf(10000.0f, -static_cast<float>(2 * j) / static_cast<float>(2 * half));
  float s, c;
  sincosf(pos * freq, &s, &c);
  const float a = row[j], b = row[j + half];
  row[j] = a * c - b * s;
  row[j + half] = a * s + b * c;
}

// RoPE on q and k of token blockIdx.x at `position + blockIdx.x`, then K and V into the cache.
__global__ void rope_and_store(float* q, float* k, const float* v, std::int64_t position,
                               std::int64_t q_heads, std::int64_t kv_heads, std::int64_t dim,
                               std::int64_t layer, layout::BlockTableLayout cache, float* pool) {
  const std::int64_t i = blockIdx.x;
  const std::int64_t half = dim / 2;
  const auto pos = static_cast<float>(position + i);
  for (std::int64_t x = threadIdx.x; x < q_heads * half; x += blockDim.x) {
    rotate(q + (i * q_heads + x / half) * dim, x % half, half, pos);
  }
  for (std::int64_t x = threadIdx.x; x < kv_heads * half; x += blockDim.x) {
    rotate(k + (i * kv_heads + x / half) * dim, x % half, half, pos);
  }
  __syncthreads();  // rotated k rows are read back by other threads below
  for (std::int64_t x = threadIdx.x; x < kv_heads * dim; x += blockDim.x) {
    const std::int64_t h = x / dim, d = x % dim;
    const std::int64_t ko = cache.row_offset(layer, layout::KvPart::kK, position + i, h);
    const std::int64_t vo = cache.row_offset(layer, layout::KvPart::kV, position + i, h);
    if (ko >= 0) pool[ko + d] = k[(i * kv_heads + h) * dim + d];
    if (vo >= 0) pool[vo + d] = v[(i * kv_heads + h) * dim + d];
  }
}

// Causal attention of query (token blockIdx.x, head blockIdx.y) over cache positions
// [0, position + token]; scores in dynamic shared memory, softmax serial in one thread.
__global__ void attend(const float* q, float* o, std::int64_t position, std::int64_t q_heads,
                       std::int64_t kv_heads, std::int64_t dim, std::int64_t layer,
                       layout::BlockTableLayout cache, const float* pool) {
  extern __shared__ float scores[];
  __shared__ float inv_sum;
  const std::int64_t i = blockIdx.x, hq = blockIdx.y;
  const std::int64_t hk = hq / (q_heads / kv_heads);
  const std::int64_t ctx = position + i + 1;
  const float* qr = q + (i * q_heads + hq) * dim;
  const float scale = rsqrtf(static_cast<float>(dim));
  for (std::int64_t t = threadIdx.x; t < ctx; t += blockDim.x) {
    const float* kr = pool + cache.row_offset(layer, layout::KvPart::kK, t, hk);
    float s = 0.0f;
    for (std::int64_t d = 0; d < dim; ++d) s += qr[d] * kr[d];
    scores[t] = s * scale;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float mx = -INFINITY, sum = 0.0f;
    for (std::int64_t t = 0; t < ctx; ++t) mx = fmaxf(mx, scores[t]);
    for (std::int64_t t = 0; t < ctx; ++t) sum += (scores[t] = expf(scores[t] - mx));
    inv_sum = 1.0f / sum;
  }
  __syncthreads();
  for (std::int64_t d = threadIdx.x; d < dim; d += blockDim.x) {
    float acc = 0.0f;
    for (std::int64_t t = 0; t < ctx; ++t) {
      acc += scores[t] * pool[cache.row_offset(layer, layout::KvPart::kV, t, hk) + d];
    }
    o[(i * q_heads + hq) * dim + d] = acc * inv_sum;
  }
}

// gate := silu(gate) * up, elementwise.
__global__ void swiglu(float* gate, const float* up, std::int64_t count) {
  for (std::int64_t x = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; x < count;
       x += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const float g = gate[x];
    gate[x] = g / (1.0f + expf(-g)) * up[x];
  }
}

}  // namespace
}  // namespace toy_kernels

//! The engine. Two engines built with the same seed for layer l share that layer's weights;
//! the embedding (and LM head, tied) comes from `embed_seed`.
class ToyDeviceEngine {
 public:
  static constexpr bool kDeterministicSpans = true;

  ToyDeviceEngine(ToyConfig c, std::vector<std::uint64_t> layer_seeds, std::uint64_t embed_seed = 7)
      : c_(c), seeds_(std::move(layer_seeds)), embed_seed_(embed_seed) {}
  ToyDeviceEngine(const ToyDeviceEngine&) = delete;
  ToyDeviceEngine& operator=(const ToyDeviceEngine&) = delete;
  ~ToyDeviceEngine() {
    if (blas_ != nullptr) (void)cublasDestroy(blas_);
  }

  //! Uploads the weights, allocates the cache for max_tokens and the scratch rows. Call once.
  Status init() {
    if (static_cast<std::int64_t>(seeds_.size()) != c_.layers || c_.head_dim % 2 != 0 || c_.head_dim > 128 ||
        c_.q_heads % c_.kv_heads != 0 || c_.max_tokens * 4 > 48 * 1024) {
      return Status::invalid_argument("toy device engine: bad config");
    }
    DROIDSPEAK_TRY(blas(cublasCreate(&blas_), "cublasCreate"));
    DROIDSPEAK_TRY(blas(cublasSetMathMode(blas_, CUBLAS_PEDANTIC_MATH), "cublasSetMathMode"));
    // A fixed workspace: cuBLAS then never allocates while enqueueing (graph capture).
    DROIDSPEAK_TRY(workspace_.allocate(std::size_t{32} << 20));
    DROIDSPEAK_TRY(blas(cublasSetWorkspace(blas_, workspace_.get(), workspace_.bytes()), "cublasSetWorkspace"));

    const std::int64_t qd = c_.q_heads * c_.head_dim, kvd = c_.kv_heads * c_.head_dim, h = c_.hidden;
    DROIDSPEAK_TRY(upload_random(embedding_, embed_seed_, c_.vocab * h, 1.0f));
    layers_.resize(static_cast<std::size_t>(c_.layers));
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      LayerWeights& w = layers_[l];
      const std::uint64_t s = seeds_[l] * 16;
      DROIDSPEAK_TRY(upload_random(w.q, s + 1, qd * h, inv_sqrt(h)));
      DROIDSPEAK_TRY(upload_random(w.k, s + 2, kvd * h, inv_sqrt(h)));
      DROIDSPEAK_TRY(upload_random(w.v, s + 3, kvd * h, inv_sqrt(h)));
      DROIDSPEAK_TRY(upload_random(w.o, s + 4, h * qd, inv_sqrt(qd)));
      DROIDSPEAK_TRY(upload_random(w.gate, s + 5, c_.ffn * h, inv_sqrt(h)));
      DROIDSPEAK_TRY(upload_random(w.up, s + 6, c_.ffn * h, inv_sqrt(h)));
      DROIDSPEAK_TRY(upload_random(w.down, s + 7, h * c_.ffn, inv_sqrt(c_.ffn)));
    }

    // A paged cache whose block table runs backwards, so logical and physical order differ.
    const std::int64_t pages = (c_.max_tokens + c_.page_size - 1) / c_.page_size;
    pool_ = {c_.layers, pages, c_.page_size, c_.kv_heads, c_.head_dim, layout::HeadOrder::kHND,
             layout::KvPlacement::kFused};
    std::vector<std::int32_t> table(static_cast<std::size_t>(pages));
    for (std::int64_t b = 0; b < pages; ++b) table[static_cast<std::size_t>(b)] = static_cast<std::int32_t>(pages - 1 - b);
    DROIDSPEAK_TRY(block_table_.allocate(table.size() * sizeof(std::int32_t)));
    DROIDSPEAK_TRY(cuda(cudaMemcpy(block_table_.get(), table.data(), table.size() * sizeof(std::int32_t),
                                   cudaMemcpyHostToDevice), "upload block table"));
    DROIDSPEAK_TRY(pages_.allocate(static_cast<std::size_t>(pool_.pool_elements()) * sizeof(float)));
    DROIDSPEAK_TRY(cuda(cudaMemset(pages_.get(), 0, pages_.bytes()), "clear cache"));

    const std::int64_t rows = c_.max_tokens;
    DROIDSPEAK_TRY(x_.allocate(static_cast<std::size_t>(rows * h) * sizeof(float)));
    DROIDSPEAK_TRY(q_.allocate(static_cast<std::size_t>(rows * qd) * sizeof(float)));
    DROIDSPEAK_TRY(k_.allocate(static_cast<std::size_t>(rows * kvd) * sizeof(float)));
    DROIDSPEAK_TRY(v_.allocate(static_cast<std::size_t>(rows * kvd) * sizeof(float)));
    DROIDSPEAK_TRY(o_.allocate(static_cast<std::size_t>(rows * qd) * sizeof(float)));
    DROIDSPEAK_TRY(gate_.allocate(static_cast<std::size_t>(rows * c_.ffn) * sizeof(float)));
    DROIDSPEAK_TRY(up_.allocate(static_cast<std::size_t>(rows * c_.ffn) * sizeof(float)));
    // The uploads and the clear ran on the legacy stream, which non-blocking streams do not
    // wait for: finish them before any caller's stream touches the engine.
    return cuda(cudaDeviceSynchronize(), "init");
  }

  layout::ModelGeometry geometry() const { return {c_.layers, c_.hidden, c_.q_heads, c_.kv_heads, c_.head_dim}; }
  std::int64_t vocab_size() const { return c_.vocab; }
  std::int64_t num_tokens() const { return num_tokens_; }
  std::int64_t capacity() const { return capacity_; }
  Status reset() {
    num_tokens_ = 0;
    return Status::ok();
  }
  Status reserve(std::int64_t n) {
    if (n < 0 || n > c_.max_tokens) {
      return Status::out_of_range("toy device engine: at most " + std::to_string(c_.max_tokens) + " positions");
    }
    capacity_ = std::max(capacity_, n);
    return Status::ok();
  }
  Status set_num_tokens(std::int64_t n) {
    if (n < 0 || n > capacity_) return Status::out_of_range("toy device engine: set_num_tokens beyond capacity");
    num_tokens_ = n;
    return Status::ok();
  }
  layout::KvView kv_cache() {
    return {pages_.get(), pages_.get(), DType::kF32, cache_layout()};
  }

  Status embed(std::span<const std::int32_t> tokens, std::span<float> hidden, CUstream_st* stream) {
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (static_cast<std::int64_t>(hidden.size()) != n * c_.hidden) {
      return Status::invalid_argument("toy device engine: embed size");
    }
    if (n == 0) return Status::ok();
    toy_kernels::embed_rows<<<static_cast<unsigned>(n), toy_kernels::kThreads, 0, stream>>>(
        tokens.data(), f(embedding_), c_.vocab, c_.hidden, hidden.data());
    return cuda(cudaGetLastError(), "embed");
  }

  Status run_layers(std::int64_t first, std::int64_t last, std::int64_t position, std::int64_t n,
                    std::span<float> hidden, CUstream_st* stream) {
    if (first < 0 || first > last || last > c_.layers || position < 0 || n < 0 || position + n > capacity_ ||
        static_cast<std::int64_t>(hidden.size()) != n * c_.hidden) {
      return Status::invalid_argument("toy device engine: bad run_layers arguments");
    }
    if (n == 0) return Status::ok();
    DROIDSPEAK_TRY(blas(cublasSetStream(blas_, stream), "cublasSetStream"));
    for (std::int64_t l = first; l < last; ++l) DROIDSPEAK_TRY(layer(l, position, n, hidden.data(), stream));
    if (first == 0 && last == c_.layers) num_tokens_ = std::max(num_tokens_, position + n);
    return Status::ok();
  }

  //! cuda::KvOnlyDeviceEngine: the first part of layer() only (norm, projections, rotary,
  //! cache write), so the cache gets the very bytes a full layer writes.
  Status run_layer_kv_only(std::int64_t layer, std::int64_t position, std::int64_t n,
                           std::span<const float> hidden, CUstream_st* stream) {
    if (layer < 0 || layer >= c_.layers || position < 0 || n < 0 || position + n > capacity_ ||
        static_cast<std::int64_t>(hidden.size()) != n * c_.hidden) {
      return Status::invalid_argument("toy device engine: bad run_layer_kv_only arguments");
    }
    if (n == 0) return Status::ok();
    DROIDSPEAK_TRY(blas(cublasSetStream(blas_, stream), "cublasSetStream"));
    return attention_inputs(layer, position, n, hidden.data(), stream);
  }

  Status logits(std::span<const float> hidden, std::span<float> out, CUstream_st* stream) {
    const auto m = static_cast<std::int64_t>(hidden.size()) / c_.hidden;
    if (m > c_.max_tokens || static_cast<std::int64_t>(out.size()) != m * c_.vocab) {
      return Status::invalid_argument("toy device engine: logits size");
    }
    if (m == 0) return Status::ok();
    DROIDSPEAK_TRY(blas(cublasSetStream(blas_, stream), "cublasSetStream"));
    toy_kernels::rms_norm_rows<<<static_cast<unsigned>(m), toy_kernels::kThreads, 0, stream>>>(
        hidden.data(), f(x_), c_.hidden);
    DROIDSPEAK_TRY(cuda(cudaGetLastError(), "final norm"));
    return gemm(f(x_), m, c_.hidden, f(embedding_), c_.vocab, out.data(), 0.0f);
  }

 private:
  struct LayerWeights {
    cuda::DeviceMemory q, k, v, o, gate, up, down;  // [out][in] row-major
  };

  static float inv_sqrt(std::int64_t n) { return 1.0f / std::sqrt(static_cast<float>(n)); }
  static float* f(const cuda::DeviceMemory& m) { return reinterpret_cast<float*>(m.get()); }

  static Status cuda(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return Status::ok();
    return Status::cuda_error(std::string("toy device engine: ") + what + ": " + cudaGetErrorString(e));
  }
  static Status blas(cublasStatus_t s, const char* what) {
    if (s == CUBLAS_STATUS_SUCCESS) return Status::ok();
    return Status::cuda_error(std::string("toy device engine: ") + what + ": " + cublasGetStatusString(s));
  }

  // Uniform in [-scale, scale), from a 64-bit LCG seeded by `seed`.
  static Status upload_random(cuda::DeviceMemory& dst, std::uint64_t seed, std::int64_t count, float scale) {
    std::vector<float> w(static_cast<std::size_t>(count));
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (float& v : w) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      v = (static_cast<float>(x >> 40) / 16777216.0f * 2.0f - 1.0f) * scale;
    }
    DROIDSPEAK_TRY(dst.allocate(w.size() * sizeof(float)));
    return cuda(cudaMemcpy(dst.get(), w.data(), w.size() * sizeof(float), cudaMemcpyHostToDevice), "upload weights");
  }

  layout::BlockTableLayout cache_layout() const {
    return {pool_, reinterpret_cast<const std::int32_t*>(block_table_.get()), pool_.num_pages, capacity_};
  }

  // y[rows][out] := x[rows][in] * w[out][in]^T + beta * y (column-major: y^T = w x^T).
  Status gemm(const float* x, std::int64_t rows, std::int64_t in, const float* w, std::int64_t out, float* y,
              float beta) {
    const float one = 1.0f;
    return blas(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(out), static_cast<int>(rows),
                            static_cast<int>(in), &one, w, static_cast<int>(in), x, static_cast<int>(in), &beta, y,
                            static_cast<int>(out)),
                "cublasSgemm");
  }

  // The attention block's inputs: norm, q/k/v projections, rotary, K and V into the cache
  // (Q, rotated, stays in q_; the K/V-only member computes it too, as the toy's one kernel
  // rotates both).
  Status attention_inputs(std::int64_t l, std::int64_t position, std::int64_t n, const float* hidden,
                          CUstream_st* stream) {
    const LayerWeights& w = layers_[static_cast<std::size_t>(l)];
    const std::int64_t h = c_.hidden, qd = c_.q_heads * c_.head_dim, kvd = c_.kv_heads * c_.head_dim;
    const auto rows = static_cast<unsigned>(n);
    toy_kernels::rms_norm_rows<<<rows, toy_kernels::kThreads, 0, stream>>>(hidden, f(x_), h);
    DROIDSPEAK_TRY(cuda(cudaGetLastError(), "attention norm"));
    DROIDSPEAK_TRY(gemm(f(x_), n, h, f(w.q), qd, f(q_), 0.0f));
    DROIDSPEAK_TRY(gemm(f(x_), n, h, f(w.k), kvd, f(k_), 0.0f));
    DROIDSPEAK_TRY(gemm(f(x_), n, h, f(w.v), kvd, f(v_), 0.0f));
    toy_kernels::rope_and_store<<<rows, toy_kernels::kThreads, 0, stream>>>(
        f(q_), f(k_), f(v_), position, c_.q_heads, c_.kv_heads, c_.head_dim, l, cache_layout(), f(pages_));
    return cuda(cudaGetLastError(), "rope");
  }

  // One layer over tokens [position, position + n): attention then SwiGLU MLP, both residual.
  Status layer(std::int64_t l, std::int64_t position, std::int64_t n, float* hidden, CUstream_st* stream) {
    const LayerWeights& w = layers_[static_cast<std::size_t>(l)];
    const std::int64_t h = c_.hidden, qd = c_.q_heads * c_.head_dim;
    const auto rows = static_cast<unsigned>(n);
    DROIDSPEAK_TRY(attention_inputs(l, position, n, hidden, stream));
    const dim3 grid(rows, static_cast<unsigned>(c_.q_heads));
    const std::size_t shared = static_cast<std::size_t>(position + n) * sizeof(float);
    toy_kernels::attend<<<grid, toy_kernels::kThreads, shared, stream>>>(
        f(q_), f(o_), position, c_.q_heads, c_.kv_heads, c_.head_dim, l, cache_layout(), f(pages_));
    DROIDSPEAK_TRY(cuda(cudaGetLastError(), "attention"));
    DROIDSPEAK_TRY(gemm(f(o_), n, qd, f(w.o), h, hidden, 1.0f));  // hidden += o Wo^T
    toy_kernels::rms_norm_rows<<<rows, toy_kernels::kThreads, 0, stream>>>(hidden, f(x_), h);
    DROIDSPEAK_TRY(cuda(cudaGetLastError(), "mlp norm"));
    DROIDSPEAK_TRY(gemm(f(x_), n, h, f(w.gate), c_.ffn, f(gate_), 0.0f));
    DROIDSPEAK_TRY(gemm(f(x_), n, h, f(w.up), c_.ffn, f(up_), 0.0f));
    toy_kernels::swiglu<<<256, 256, 0, stream>>>(f(gate_), f(up_), n * c_.ffn);
    DROIDSPEAK_TRY(cuda(cudaGetLastError(), "swiglu"));
    return gemm(f(gate_), n, c_.ffn, f(w.down), h, hidden, 1.0f);  // hidden += act Wd^T
  }

  ToyConfig c_;
  std::vector<std::uint64_t> seeds_;
  std::uint64_t embed_seed_;
  cublasHandle_t blas_ = nullptr;
  cuda::DeviceMemory workspace_, embedding_, block_table_, pages_;
  cuda::DeviceMemory x_, q_, k_, v_, o_, gate_, up_;  // scratch rows, [max_tokens][...]
  std::vector<LayerWeights> layers_;
  layout::PagePool pool_;
  std::int64_t capacity_ = 0, num_tokens_ = 0;
};
static_assert(cuda::DeviceEngine<ToyDeviceEngine>);
static_assert(cuda::KvOnlyDeviceEngine<ToyDeviceEngine>);

}  // namespace droidspeak::test
