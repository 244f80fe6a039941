// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The layout demo: a sender's paged KV cache travels to a receiver with another
//! paged layout, through the contiguous transfer layout, with and without fp8 on the wire.
//! Every step is checked; the program exits non-zero if any check fails.
#include "droidspeak/layout/copy.hpp"
#include "droidspeak/layout/deviation.hpp"
#include "droidspeak/layout/quantize.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

using namespace droidspeak;
using namespace droidspeak::layout;

namespace {

bool check(const Status& s, const char* what) {
  if (!s.is_ok()) std::fprintf(stderr, "%s failed: %s\n", what, s.to_string().c_str());
  return s.is_ok();
}

}  // namespace

int main() {
  // A model of 12 layers with 2 KV heads of head_dim 48 (the bundled family's shape) and
  // a context of 300 tokens.
  const std::int64_t layers = 12, heads = 2, dim = 48, tokens = 300;

  // Sender: vLLM-style block table, split K/V pools, NHD pages of 16 tokens, bf16.
  const std::int64_t s_pages = (tokens + 15) / 16 + 4;
  std::vector<std::int32_t> table(static_cast<std::size_t>(s_pages));
  std::iota(table.begin(), table.end(), 0);
  std::shuffle(table.begin(), table.end(), std::mt19937(7));
  const BlockTableLayout sender_layout{
      PagePool{layers, s_pages, 16, heads, dim, HeadOrder::kNHD, KvPlacement::kSplit},
      table.data(), s_pages, tokens};
  std::vector<std::uint16_t> s_k(static_cast<std::size_t>(sender_layout.pool_elements()));
  std::vector<std::uint16_t> s_v(s_k.size());
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto* pool : {&s_k, &s_v}) {
    for (auto& x : *pool) x = to_bfloat16(normal(rng)).bits;
  }
  const KvView sender(reinterpret_cast<std::byte*>(s_k.data()), reinterpret_cast<std::byte*>(s_v.data()),
                      DType::kBF16, sender_layout);

  // Receiver: FlashInfer-style CSR page list, one fused pool, HND pages of 8 tokens, bf16.
  const std::int64_t r_pages = (tokens + 7) / 8;
  std::vector<std::int32_t> indptr{0, static_cast<std::int32_t>(r_pages)};
  std::vector<std::int32_t> indices(static_cast<std::size_t>(r_pages));
  std::iota(indices.rbegin(), indices.rend(), 0);  // pages in reverse order
  std::vector<std::int32_t> last{static_cast<std::int32_t>(tokens - (r_pages - 1) * 8)};
  const CsrPageLayout receiver_layout{
      PagePool{layers, r_pages, 8, heads, dim, HeadOrder::kHND, KvPlacement::kFused},
      indptr.data(), indices.data(), last.data(), 1, 0, tokens};
  std::vector<std::uint16_t> r_pool(static_cast<std::size_t>(receiver_layout.pool_elements()), 0);
  const KvView receiver(reinterpret_cast<std::byte*>(r_pool.data()), DType::kBF16, receiver_layout);

  // The wire: the transfer layout. Only reused layers travel: here every layer but 3..5,
  // which a reuse plan would recompute.
  const LayerSet reused = LayerSet::all(layers).minus(LayerSet::range(3, 6));
  const TransferLayout wire_layout{layers, tokens, heads, dim, HeadOrder::kNHD};
  std::vector<std::uint16_t> wire(static_cast<std::size_t>(wire_layout.pool_elements()), 0);
  const KvView wire_view(reinterpret_cast<std::byte*>(wire.data()), DType::kBF16, wire_layout);

  std::printf("droidspeak layout demo\n");
  std::printf("  sender   : %s\n", KvLayout(sender_layout).describe().c_str());
  std::printf("  wire     : %s\n", KvLayout(wire_layout).describe().c_str());
  std::printf("  receiver : %s\n", KvLayout(receiver_layout).describe().c_str());
  std::printf("  layers sent: %s (%lld of %lld)\n", reused.to_string().c_str(),
              static_cast<long long>(reused.count()), static_cast<long long>(layers));

  bool ok = true;
  ok &= check(gather_kv({sender, wire_view, reused, {0, tokens}, 0}), "gather");
  ok &= check(scatter_kv({wire_view, receiver, reused, {0, tokens}, 0}), "scatter");
  std::vector<KvDeviation> exact(layers);
  ok &= check(kv_deviation({sender, receiver, reused, {0, tokens}}, exact), "deviation");
  double worst = 0.0;
  for (std::int64_t l = 0; l < layers; ++l) {
    if (reused.contains(l)) worst = std::max(worst, exact[static_cast<std::size_t>(l)].both().max_abs);
  }
  const std::int64_t bytes = reused.count() * 2 * tokens * heads * dim * 2;
  std::printf("\nbf16 on the wire: %lld bytes, max |sender - receiver| = %g (bit-exact: %s)\n",
              static_cast<long long>(bytes), worst, worst == 0.0 ? "yes" : "NO");
  ok &= worst == 0.0;

  // The same with fp8 e4m3 on the wire: one scale per (layer, K|V, token, head).
  std::vector<std::uint8_t> wire8(wire.size(), 0);
  std::vector<float> scales(static_cast<std::size_t>(layers * 2 * tokens * heads), 0.0f);
  const KvView wire8_view(reinterpret_cast<std::byte*>(wire8.data()), DType::kFP8E4M3, wire_layout);
  std::fill(r_pool.begin(), r_pool.end(), 0);
  ok &= check(quantize_kv({sender, wire8_view, scales.data(), reused, {0, tokens}, 0}), "quantize");
  ok &= check(dequantize_kv({wire8_view, scales.data(), receiver, reused, {0, tokens}, 0}), "dequantize");
  std::vector<KvDeviation> lossy(layers);
  ok &= check(kv_deviation({sender, receiver, reused, {0, tokens}}, lossy), "deviation");
  const std::int64_t bytes8 = reused.count() * 2 * tokens * heads * (dim + 4);
  std::printf("fp8 on the wire : %lld bytes (%.2fx fewer), per-layer relative L2 error:\n",
              static_cast<long long>(bytes8), static_cast<double>(bytes) / static_cast<double>(bytes8));
  for (std::int64_t l = 0; l < layers; ++l) {
    if (!reused.contains(l)) {
      std::printf("    layer %2lld: recomputed, not sent\n", static_cast<long long>(l));
      continue;
    }
    const double rel = lossy[static_cast<std::size_t>(l)].both().relative_l2();
    std::printf("    layer %2lld: K %.4f  V %.4f\n", static_cast<long long>(l),
                lossy[static_cast<std::size_t>(l)].k.relative_l2(),
                lossy[static_cast<std::size_t>(l)].v.relative_l2());
    ok &= rel > 0.0 && rel < 0.05;
  }
  std::printf("\n%s\n", ok ? "all checks passed" : "SOME CHECKS FAILED");
  return ok ? 0 : 1;
}
