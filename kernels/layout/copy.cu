// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file CUDA copy / gather / scatter between any two KV views: one launch for all
//! selected layers, K and V, tokens and heads.
#include "droidspeak/cuda/layout.hpp"

#include "common.cuh"
#include "copy_kernels.cuh"

#include "droidspeak/layout/operations.hpp"

#include <cuda_runtime.h>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace cuda {

namespace {

Status checked_copy(const layout::KvCopyArgs& a, layout::CopyDirection direction,
                    CUstream_st* stream) {
  DROIDSPEAK_TRY(layout::can_implement(a, layout::IndexMemory::kDevice, direction));
  const detail::KvCopyMap map =
      detail::KvCopyMap::make(a.src, a.dst, a.layers, a.src_tokens, a.dst_token_begin);
  return detail::launch_row_copy(map, a.src.dtype, a.dst.dtype, a.src.layout.head_dim(),
                                 {a.src.k_data, a.src.v_data, a.dst.k_data, a.dst.v_data},
                                 stream);
}

}  // namespace

Status copy_kv(const layout::KvCopyArgs& a, CUstream_st* stream) {
  return checked_copy(a, layout::CopyDirection::kAny, stream);
}

Status gather_kv(const layout::KvCopyArgs& a, CUstream_st* stream) {
  return checked_copy(a, layout::CopyDirection::kGather, stream);
}

Status scatter_kv(const layout::KvCopyArgs& a, CUstream_st* stream) {
  return checked_copy(a, layout::CopyDirection::kScatter, stream);
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::cuda
