// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The runtime calls of cuda/stream_ops.hpp.
#include "droidspeak/cuda/stream_ops.hpp"

#include <cuda_runtime.h>

#include <string>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace cuda {
namespace {

Status to_status(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::ok();
  return Status::cuda_error(std::string(what) + ": " + cudaGetErrorString(e));
}

}  // namespace

Status create_sync_event(CUevent_st** event) {
  return to_status(cudaEventCreateWithFlags(event, cudaEventDisableTiming), "cudaEventCreateWithFlags");
}

void destroy_event(CUevent_st* event) noexcept {
  if (event != nullptr) (void)cudaEventDestroy(event);
}

Status record_event(CUevent_st* event, CUstream_st* stream) {
  return to_status(cudaEventRecord(event, stream), "cudaEventRecord");
}

Status wait_event(CUstream_st* stream, CUevent_st* event) {
  return to_status(cudaStreamWaitEvent(stream, event, 0), "cudaStreamWaitEvent");
}

Status device_allocate(void** ptr, std::size_t bytes) {
  return to_status(cudaMalloc(ptr, bytes == 0 ? 1 : bytes), "cudaMalloc");
}

void device_free(void* ptr) noexcept {
  if (ptr != nullptr) (void)cudaFree(ptr);
}

}}}  // namespace droidspeak::DROIDSPEAK_ABI::cuda
