// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file cuda::StreamPrefill on a device with the deterministic toy engine: the two-stream
//! schedule leaves the same cache and logits, byte for byte, as the same schedule on one
//! stream, as the host driver (prefill::partial_prefill) running the same device model
//! through HostEngineAdapter, as a step-by-step synchronous composition (reused layers: the
//! host copy_kv of the sender's KV), as a full prefill for a full-recompute plan, and as its
//! own CUDA-graph replay.
#include "droidspeak/cuda/layout.hpp"
#include "droidspeak/cuda/stream_prefill.hpp"
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/plan/reuse_plan.hpp"
// nvcc's front end (EDG) takes `Status& operator=` for a call returning the [[nodiscard]]
// class Status by value (#2810-D at `status = std::move(s)` in threaded_driver.hpp); g++
// and clang++ do not. The host drivers are compiled here only to be compared with.
#pragma nv_diagnostic push
#pragma nv_diag_suppress 2810
#include "droidspeak/prefill/partial_prefill.hpp"
#pragma nv_diagnostic pop
#include "prefill/host_engine_adapter.cuh"
#include "prefill/toy_device_engine.cuh"
#include "support.cuh"

#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace droidspeak;
using droidspeak::layout::LayerSet;
using droidspeak::test::check_cuda;
using droidspeak::test::DeviceBuffer;
using droidspeak::test::HostEngineAdapter;
using droidspeak::test::ToyConfig;
using droidspeak::test::ToyDeviceEngine;

namespace {

constexpr std::int64_t kN = 40;  // context: three pages, the last one partly filled
constexpr std::int64_t kM = 5;   // suffix

void require_ok(const Status& s) { REQUIRE_MESSAGE(s.is_ok(), s.to_string()); }

std::vector<std::uint64_t> seeds(std::uint64_t base, std::int64_t layers) {
  std::vector<std::uint64_t> s;
  for (std::int64_t l = 0; l < layers; ++l) s.push_back(base + static_cast<std::uint64_t>(l));
  return s;
}

plan::ReusePlan make_plan(std::int64_t layers, std::vector<plan::LayerInterval> intervals) {
  Result<plan::ReusePlan> p = plan::ReusePlan::create(layers, std::move(intervals));
  require_ok(p.status());
  return std::move(p).value();
}

// Two non-blocking streams, so nothing orders them but the driver's events.
struct Streams {
  cudaStream_t compute = nullptr, copy = nullptr;
  Streams() {
    check_cuda(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking));
    check_cuda(cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking));
  }
  Streams(const Streams&) = delete;
  Streams& operator=(const Streams&) = delete;
  ~Streams() {
    (void)cudaStreamDestroy(compute);
    (void)cudaStreamDestroy(copy);
  }
};

std::vector<std::int32_t> token_ids(std::int64_t count, std::int64_t salt, std::int64_t vocab) {
  std::vector<std::int32_t> t(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) t[static_cast<std::size_t>(i)] = static_cast<std::int32_t>((i * 37 + salt) % vocab);
  return t;
}

DeviceBuffer tokens_on_device(std::int64_t count, std::int64_t salt, std::int64_t vocab) {
  DeviceBuffer b = DeviceBuffer::from_vector(token_ids(count, salt, vocab));
  check_cuda(cudaDeviceSynchronize());  // the test's streams are non-blocking: finish the upload
  return b;
}

std::span<const std::int32_t> tokens(const DeviceBuffer& b, std::int64_t count) {
  return {reinterpret_cast<const std::int32_t*>(b.get()), static_cast<std::size_t>(count)};
}
std::span<float> floats(const DeviceBuffer& b, std::int64_t count) {
  return {reinterpret_cast<float*>(b.get()), static_cast<std::size_t>(count)};
}

// The sender: another model of the same shape (its own layer weights) after a full prefill
// of the context, with E entering every layer captured by copying `hidden` between layers.
struct Sender {
  ToyDeviceEngine engine;
  DeviceBuffer e;
  layout::ECacheLayout e_layout;

  Sender(const ToyConfig& c, const DeviceBuffer& context, cudaStream_t stream)
      : engine(c, seeds(100, c.layers)), e(static_cast<std::size_t>(c.layers * kN * c.hidden) * sizeof(float)),
        e_layout{LayerSet::all(c.layers), kN, c.hidden} {
    require_ok(engine.init());
    require_ok(engine.reset());
    require_ok(engine.reserve(kN));
    DeviceBuffer hidden(static_cast<std::size_t>(kN * c.hidden) * sizeof(float));
    const std::span<float> h = floats(hidden, kN * c.hidden);
    require_ok(engine.embed(tokens(context, kN), h, stream));
    for (std::int64_t l = 0; l < c.layers; ++l) {
      check_cuda(cudaMemcpyAsync(e.get() + e_layout.row_offset(l, 0) * 4, hidden.get(), h.size_bytes(),
                                 cudaMemcpyDeviceToDevice, stream));
      require_ok(engine.run_layers(l, l + 1, 0, kN, h, stream));
    }
    check_cuda(cudaStreamSynchronize(stream));
  }
  prefill::SenderCaches caches() {
    return {engine.kv_cache(), layout::ConstEView(e.get(), DType::kF32, e_layout)};
  }
};

struct Outcome {
  std::vector<std::byte> cache;
  std::vector<std::byte> logits;
};

// The whole pool, every byte (positions and layers the prefill must not touch included).
std::vector<std::byte> cache_bytes(ToyDeviceEngine& e) {
  const layout::KvView v = e.kv_cache();
  std::vector<std::byte> out(static_cast<std::size_t>(v.pool_bytes()));
  check_cuda(cudaMemcpy(out.data(), v.k_data, out.size(), cudaMemcpyDeviceToHost));
  return out;
}

// The block table of a device cache, on the host.
std::vector<std::int32_t> table_of(const layout::KvView& v) {
  std::vector<std::int32_t> t(static_cast<std::size_t>(v.layout.block_table.num_blocks));
  check_cuda(cudaMemcpy(t.data(), v.layout.block_table.block_table, t.size() * sizeof(std::int32_t),
                        cudaMemcpyDeviceToHost));
  return t;
}

// Fills the receiver's pool with NaN bytes, so a run that skips a write cannot match.
void poison(ToyDeviceEngine& e, std::int64_t capacity) {
  require_ok(e.reserve(capacity));
  const layout::KvView v = e.kv_cache();
  check_cuda(cudaMemset(v.k_data, 0xFF, static_cast<std::size_t>(v.pool_bytes())));
  check_cuda(cudaDeviceSynchronize());  // the legacy-stream memset before any later stream work
}

struct Fixture {
  ToyConfig config;
  Streams streams;
  DeviceBuffer context = tokens_on_device(kN, 11, config.vocab);
  DeviceBuffer suffix = tokens_on_device(kM, 5, config.vocab);
  DeviceBuffer logits = DeviceBuffer(static_cast<std::size_t>(config.vocab) * sizeof(float));
  Sender sender{config, context, streams.compute};
  ToyDeviceEngine receiver{config, seeds(1, config.layers)};

  Fixture() { require_ok(receiver.init()); }

  Outcome read(cudaStream_t s) {
    check_cuda(cudaStreamSynchronize(s));
    return {cache_bytes(receiver), logits.download(logits.bytes())};
  }

  // The driver with `copy` as the transfer lane's stream (== compute: one stream).
  Outcome run_driver(const plan::ReusePlan& plan, cudaStream_t copy) {
    poison(receiver, kN + kM);
    cuda::StreamPrefill<ToyDeviceEngine> p(receiver, plan, tokens(context, kN), sender.caches(),
                                           tokens(suffix, kM), floats(logits, config.vocab));
    require_ok(p.prepare());
    require_ok(p.enqueue(streams.compute, copy));
    Outcome o = read(streams.compute);
    CHECK(receiver.num_tokens() == kN + kM);
    return o;
  }
};

const std::vector<std::vector<plan::LayerInterval>> kPlans = {
    {{1, 2}, {4, 4}},  // entries 1 and 4; layers 0, 3, 5 reused
    {{0, 1}},          // from the receiver's own embeddings, the rest reused
    {{3, 5}},          // a tail interval
    {},                // everything reused: only the suffix runs
};

std::string name(const std::vector<plan::LayerInterval>& p) {
  std::string s;
  for (const auto& v : p) s += "[" + std::to_string(v.first) + "," + std::to_string(v.last) + "]";
  return s.empty() ? "all reused" : s;
}

}  // namespace

TEST_CASE("two streams leave the same cache and logits as one stream, byte for byte") {
  Fixture f;
  for (const auto& intervals : kPlans) {
    CAPTURE(name(intervals));
    const plan::ReusePlan plan = make_plan(f.config.layers, intervals);
    const Outcome one = f.run_driver(plan, f.streams.compute);
    const Outcome two = f.run_driver(plan, f.streams.copy);
    CHECK(one.cache == two.cache);
    CHECK(one.logits == two.logits);
  }
}

TEST_CASE("the CUDA driver leaves the cache and logits of the host driver on the same device model") {
  Fixture f;
  // The sender's caches on the host: its pool with a host copy of its block table, its E.
  std::vector<std::byte> sender_pool = cache_bytes(f.sender.engine);
  const std::vector<std::int32_t> sender_table = table_of(f.sender.engine.kv_cache());
  layout::KvLayout sender_layout = f.sender.engine.kv_cache().layout;
  sender_layout.block_table.block_table = sender_table.data();
  const std::vector<std::byte> sender_e = f.sender.e.download(f.sender.e.bytes());
  const prefill::SenderCaches host_sender{layout::ConstKvView(sender_pool.data(), DType::kF32, sender_layout),
                                          layout::ConstEView(sender_e.data(), DType::kF32, f.sender.e_layout)};
  const std::vector<std::int32_t> context = token_ids(kN, 11, f.config.vocab), suffix = token_ids(kM, 5, f.config.vocab);

  for (const auto& intervals : kPlans) {
    CAPTURE(name(intervals));
    const plan::ReusePlan plan = make_plan(f.config.layers, intervals);
    const Outcome driven = f.run_driver(plan, f.streams.copy);

    poison(f.receiver, kN + kM);
    HostEngineAdapter<ToyDeviceEngine> host(f.receiver, f.streams.compute);
    std::vector<float> logits(static_cast<std::size_t>(f.config.vocab));
    require_ok(prefill::partial_prefill(host, plan, context, host_sender, suffix, logits));
    check_cuda(cudaStreamSynchronize(f.streams.compute));
    CHECK(driven.cache == cache_bytes(f.receiver));
    REQUIRE(driven.logits.size() == logits.size() * sizeof(float));
    CHECK(std::memcmp(driven.logits.data(), logits.data(), driven.logits.size()) == 0);
  }
}

TEST_CASE("the driver's cache equals a step-by-step composition and the host copy of reused layers") {
  Fixture f;
  const plan::ReusePlan plan = make_plan(f.config.layers, {{1, 2}, {4, 4}});
  const Outcome driven = f.run_driver(plan, f.streams.copy);

  // Reused layers: the host primitive's copy of the sender's KV into a host mirror of the
  // receiver's layout (same block table, downloaded) must give the same bytes.
  const layout::KvView sender_dev = f.sender.engine.kv_cache();
  const layout::KvView receiver_dev = f.receiver.kv_cache();
  std::vector<std::byte> sender_host = cache_bytes(f.sender.engine);
  std::vector<std::byte> expected(driven.cache.size());
  const std::vector<std::int32_t> sender_table = table_of(sender_dev), receiver_table = table_of(receiver_dev);
  layout::KvLayout src_layout = sender_dev.layout, dst_layout = receiver_dev.layout;
  src_layout.block_table.block_table = sender_table.data();
  dst_layout.block_table.block_table = receiver_table.data();
  const layout::ConstKvView src(sender_host.data(), DType::kF32, src_layout);
  const layout::KvView dst(expected.data(), DType::kF32, dst_layout);
  require_ok(layout::copy_kv({src, dst, plan.reused(), {0, kN}, 0}));
  for (std::int64_t l : {0, 3, 5}) {
    CAPTURE(l);
    for (std::int64_t t = 0; t < kN; ++t) {
      for (const layout::KvPart part : {layout::KvPart::kK, layout::KvPart::kV}) {
        for (std::int64_t h = 0; h < f.config.kv_heads; ++h) {
          const auto at = static_cast<std::size_t>(dst_layout.row_offset(l, part, t, h)) * sizeof(float);
          REQUIRE(std::memcmp(driven.cache.data() + at, expected.data() + at, f.config.head_dim * sizeof(float)) == 0);
        }
      }
    }
  }

  // Every layer and the logits: the engine calls of the Engine contract's recipe, one at a
  // time with a host wait after each, on one stream.
  cudaStream_t s = f.streams.compute;
  poison(f.receiver, kN + kM);
  require_ok(f.receiver.reset());
  require_ok(f.receiver.reserve(kN + kM));
  require_ok(cuda::copy_kv({f.sender.caches().kv, f.receiver.kv_cache(), plan.reused(), {0, kN}, 0}, s));
  check_cuda(cudaStreamSynchronize(s));
  const std::int64_t h = f.config.hidden;
  DeviceBuffer hidden(static_cast<std::size_t>(kN * h) * sizeof(float));
  for (const plan::LayerInterval& v : plan.intervals()) {
    const std::int64_t e_at = f.sender.e_layout.row_offset(v.first, 0) * 4;
    check_cuda(cudaMemcpyAsync(hidden.get(), f.sender.e.get() + e_at, hidden.bytes(), cudaMemcpyDeviceToDevice, s));
    require_ok(f.receiver.run_layers(v.first, v.last + 1, 0, kN, floats(hidden, kN * h), s));
    check_cuda(cudaStreamSynchronize(s));
  }
  require_ok(f.receiver.set_num_tokens(kN));
  DeviceBuffer tail(static_cast<std::size_t>(kM * h) * sizeof(float));
  require_ok(f.receiver.embed(tokens(f.suffix, kM), floats(tail, kM * h), s));
  require_ok(f.receiver.run_layers(0, f.config.layers, kN, kM, floats(tail, kM * h), s));
  const std::span<const float> last = std::span<const float>(floats(tail, kM * h)).last(static_cast<std::size_t>(h));
  require_ok(f.receiver.logits(last, floats(f.logits, f.config.vocab), s));
  const Outcome stepwise = f.read(s);
  CHECK(driven.cache == stepwise.cache);
  CHECK(driven.logits == stepwise.logits);
}

TEST_CASE("a full-recompute plan leaves the cache and logits of a full prefill") {
  Fixture f;
  const plan::ReusePlan plan = make_plan(f.config.layers, {{0, f.config.layers - 1}});
  const Outcome driven = f.run_driver(plan, f.streams.copy);

  cudaStream_t s = f.streams.compute;
  const std::int64_t h = f.config.hidden, L = f.config.layers;
  poison(f.receiver, kN + kM);
  require_ok(f.receiver.reset());
  DeviceBuffer ctx(static_cast<std::size_t>(kN * h) * sizeof(float)), tail(static_cast<std::size_t>(kM * h) * sizeof(float));
  require_ok(f.receiver.embed(tokens(f.context, kN), floats(ctx, kN * h), s));
  require_ok(f.receiver.run_layers(0, L, 0, kN, floats(ctx, kN * h), s));
  require_ok(f.receiver.embed(tokens(f.suffix, kM), floats(tail, kM * h), s));
  require_ok(f.receiver.run_layers(0, L, kN, kM, floats(tail, kM * h), s));
  const std::span<const float> last = std::span<const float>(floats(tail, kM * h)).last(static_cast<std::size_t>(h));
  require_ok(f.receiver.logits(last, floats(f.logits, f.config.vocab), s));
  const Outcome full = f.read(s);
  CHECK(f.receiver.num_tokens() == kN + kM);
  CHECK(driven.cache == full.cache);
  CHECK(driven.logits == full.logits);
}

TEST_CASE("the two-stream prefill captures into a CUDA graph and replays to the same bytes") {
  Fixture f;
  const plan::ReusePlan plan = make_plan(f.config.layers, {{1, 2}, {4, 4}});
  const Outcome direct = f.run_driver(plan, f.streams.copy);

  poison(f.receiver, kN + kM);
  cuda::StreamPrefill<ToyDeviceEngine> p(f.receiver, plan, tokens(f.context, kN), f.sender.caches(),
                                         tokens(f.suffix, kM), floats(f.logits, f.config.vocab));
  require_ok(p.prepare());
  cudaGraph_t graph = nullptr;
  check_cuda(cudaStreamBeginCapture(f.streams.compute, cudaStreamCaptureModeGlobal));
  const Status enqueued = p.enqueue(f.streams.compute, f.streams.copy);
  const cudaError_t ended = cudaStreamEndCapture(f.streams.compute, &graph);
  require_ok(enqueued);
  check_cuda(ended);
  cudaGraphExec_t exec = nullptr;
  check_cuda(cudaGraphInstantiate(&exec, graph, 0));
  poison(f.receiver, kN + kM);  // nothing ran at capture: the replay must write it all
  check_cuda(cudaGraphLaunch(exec, f.streams.compute));
  const Outcome replayed = f.read(f.streams.compute);
  CHECK(direct.cache == replayed.cache);
  CHECK(direct.logits == replayed.logits);
  (void)cudaGraphExecDestroy(exec);
  (void)cudaGraphDestroy(graph);
}

TEST_CASE("the driver refuses to enqueue before prepare and reports a bad plan") {
  Fixture f;
  const plan::ReusePlan plan = make_plan(f.config.layers, {{1, 2}});
  cuda::StreamPrefill<ToyDeviceEngine> p(f.receiver, plan, tokens(f.context, kN), f.sender.caches(),
                                         tokens(f.suffix, kM), floats(f.logits, f.config.vocab));
  CHECK(p.enqueue(f.streams.compute, f.streams.copy).code() == StatusCode::kErrorInvalidArgument);

  const plan::ReusePlan other = make_plan(f.config.layers + 1, {{1, 2}});
  cuda::StreamPrefill<ToyDeviceEngine> q(f.receiver, other, tokens(f.context, kN), f.sender.caches(),
                                         tokens(f.suffix, kM), floats(f.logits, f.config.vocab));
  CHECK(q.prepare().code() == StatusCode::kErrorInvalidArgument);

  // The plan needs E of layer 1, the sender hands over none.
  prefill::SenderCaches no_e = f.sender.caches();
  no_e.e = {};
  cuda::StreamPrefill<ToyDeviceEngine> r(f.receiver, plan, tokens(f.context, kN), no_e, tokens(f.suffix, kM),
                                         floats(f.logits, f.config.vocab));
  CHECK(r.prepare().code() == StatusCode::kErrorInvalidArgument);
}
