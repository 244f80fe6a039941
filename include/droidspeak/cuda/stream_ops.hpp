// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file The few CUDA runtime calls a host-header driver needs (events, stream waits, device
//! allocations), as Status-returning functions and owning handles, so headers such as
//! cuda/stream_prefill.hpp stay free of cuda_runtime.h. Defined in kernels/prefill/
//! (droidspeak::kernels).
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"

#include <cstddef>
#include <utility>

struct CUstream_st;  // cudaStream_t
struct CUevent_st;   // cudaEvent_t

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace cuda {

//! Creates an event for ordering only (cudaEventDisableTiming: cheapest to record and wait on).
[[nodiscard]] Status create_sync_event(CUevent_st** event);
//! Destroys an event from create_sync_event (nullptr: nothing). Errors are dropped: it only
//! runs in destructors.
void destroy_event(CUevent_st* event) noexcept;
//! cudaEventRecord(event, stream).
[[nodiscard]] Status record_event(CUevent_st* event, CUstream_st* stream);
//! cudaStreamWaitEvent(stream, event): later work on `stream` waits for the work captured by
//! the event's last record. No host synchronisation; capturable.
[[nodiscard]] Status wait_event(CUstream_st* stream, CUevent_st* event);
//! cudaMalloc of `bytes` (at least one byte, so a success is never null).
[[nodiscard]] Status device_allocate(void** ptr, std::size_t bytes);
//! cudaFree (nullptr: nothing); errors dropped, as for destroy_event.
void device_free(void* ptr) noexcept;

//! An owned ordering event; empty until create().
class SyncEvent {
 public:
  SyncEvent() = default;
  SyncEvent(const SyncEvent&) = delete;
  SyncEvent& operator=(const SyncEvent&) = delete;
  SyncEvent(SyncEvent&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  SyncEvent& operator=(SyncEvent&& o) noexcept {
    std::swap(e_, o.e_);
    return *this;
  }
  ~SyncEvent() { destroy_event(e_); }

  [[nodiscard]] Status create() {
    destroy_event(std::exchange(e_, nullptr));
    return create_sync_event(&e_);
  }
  CUevent_st* get() const { return e_; }

 private:
  CUevent_st* e_ = nullptr;
};

//! An owned device allocation; empty until allocate().
class DeviceMemory {
 public:
  DeviceMemory() = default;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  DeviceMemory(DeviceMemory&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceMemory& operator=(DeviceMemory&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  ~DeviceMemory() { device_free(p_); }

  //! Replaces the allocation by one of `bytes` bytes (contents undefined).
  [[nodiscard]] Status allocate(std::size_t bytes) {
    device_free(std::exchange(p_, nullptr));
    bytes_ = 0;
    DROIDSPEAK_TRY(device_allocate(&p_, bytes));
    bytes_ = bytes;
    return Status::ok();
  }
  std::byte* get() const { return static_cast<std::byte*>(p_); }
  std::size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  std::size_t bytes_ = 0;
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::cuda
