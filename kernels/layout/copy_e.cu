// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file CUDA copy of E-cache rows: one launch for all selected entry layers and tokens.
#include "droidspeak/cuda/layout.hpp"

#include "common.cuh"
#include "copy_kernels.cuh"

#include "droidspeak/layout/operations.hpp"

#include <cuda_runtime.h>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace cuda {

Status copy_e(const layout::ECopyArgs& a, CUstream_st* stream) {
  DROIDSPEAK_TRY(layout::can_implement(a));
  const detail::ECopyMap map = detail::ECopyMap::make(a);
  return detail::launch_row_copy(map, a.src.dtype, a.dst.dtype, a.src.layout.hidden_size,
                                 {a.src.data, a.dst.data}, stream);
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::cuda
