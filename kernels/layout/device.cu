// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Device presence for tests and benchmarks.
#include "droidspeak/cuda/device.hpp"

#include <cuda_runtime.h>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace cuda {

int device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no device: clear the error, report none
    return 0;
  }
  return n;
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::cuda
