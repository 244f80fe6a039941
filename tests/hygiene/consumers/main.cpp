// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The program every consumer project builds: packs a small paged (block-table)
//! cache into the transfer layout with `droidspeak::layout::copy_kv` and checks every row.
//! Exits non-zero on any mismatch or error status.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <droidspeak/droidspeak.hpp>
#if defined(DROIDSPEAK_CONSUMER_KERNELS)  // an installed package with droidspeak::kernels
#include <droidspeak/cuda/device.hpp>
#endif
#include <vector>

namespace dl = droidspeak::layout;

int main() {
  // 2 layers, 5 tokens in pages of 2 (pages 2, 0, 1 in that order), 3 KV heads, head_dim 4.
  constexpr std::int64_t kLayers = 2, kTokens = 5, kHeads = 3, kDim = 4;
  const std::vector<std::int32_t> block_table{2, 0, 1};
  const dl::BlockTableLayout paged{
      dl::PagePool{kLayers, 3, 2, kHeads, kDim, dl::HeadOrder::kHND, dl::KvPlacement::kFused},
      block_table.data(), 3, kTokens};
  std::vector<float> pool(static_cast<std::size_t>(paged.pool_elements()));
  for (std::size_t i = 0; i < pool.size(); ++i) pool[i] = static_cast<float>(i) + 0.5f;

  const dl::TransferLayout transfer{kLayers, kTokens, kHeads, kDim, dl::HeadOrder::kNHD};
  std::vector<float> packed(static_cast<std::size_t>(transfer.pool_elements()), -1.0f);

  const dl::ConstKvView src(reinterpret_cast<const std::byte*>(pool.data()),
                            droidspeak::DType::kF32, paged);
  const dl::KvView dst(reinterpret_cast<std::byte*>(packed.data()), droidspeak::DType::kF32,
                       transfer);
  const droidspeak::Status status =
      dl::copy_kv({src, dst, dl::LayerSet::all(kLayers), {0, kTokens}, 0});
  if (!status) {
    std::fprintf(stderr, "copy_kv failed: %s\n", status.to_string().c_str());
    return 1;
  }

  int mismatches = 0;
  for (std::int64_t layer = 0; layer < kLayers; ++layer) {
    for (dl::KvPart part : {dl::KvPart::kK, dl::KvPart::kV}) {
      for (std::int64_t t = 0; t < kTokens; ++t) {
        for (std::int64_t h = 0; h < kHeads; ++h) {
          const std::int64_t from = paged.row_offset(layer, part, t, h);
          const std::int64_t to = transfer.row_offset(layer, part, t, h);
          for (std::int64_t d = 0; d < kDim; ++d) {
            if (packed[static_cast<std::size_t>(to + d)] !=
                pool[static_cast<std::size_t>(from + d)]) {
              ++mismatches;
            }
          }
        }
      }
    }
  }
  if (mismatches != 0) {
    std::fprintf(stderr, "copy_kv: %d elements differ\n", mismatches);
    return 1;
  }
  std::printf("droidspeak %d.%d.%d consumer: copy_kv packed %lld elements correctly\n",
              DROIDSPEAK_VERSION_MAJOR, DROIDSPEAK_VERSION_MINOR, DROIDSPEAK_VERSION_PATCH,
              static_cast<long long>(transfer.pool_elements()));
#if defined(DROIDSPEAK_CONSUMER_KERNELS)
  // Links against droidspeak::kernels; 0 devices on a machine without a GPU is fine.
  std::printf("droidspeak::kernels linked: %d CUDA device(s)\n", droidspeak::cuda::device_count());
#endif
  return 0;
}
