// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file Transports: how the sender's E and KV bytes reach the receiver. An in-process
//! transport (a memcpy) and a simulated link of a given bandwidth and latency.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/cpu_relax.hpp"
#include "droidspeak/core/status.hpp"

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace prefill {

//! What a transfer carries: the E rows entering `layer`, or the K and V of `layer`.
enum class Payload : std::uint8_t { kE = 0, kKv = 1 };

struct TransferTag {
  Payload payload = Payload::kKv;
  std::int64_t layer = 0;
  friend bool operator==(const TransferTag&, const TransferTag&) = default;
};

//! Moves one chunk from the sender to the receiver: `t.transmit(tag, src, dst)` copies `src`
//! into `dst` (same size) and returns once the bytes have arrived. Called from one thread at a
//! time, in the order the schedule sends (E of every entry layer first, then KV layer by layer).
template <class T>
concept Transport = requires(T& t, const TransferTag& tag, std::span<const std::byte> src,
                             std::span<std::byte> dst) {
  { t.transmit(tag, src, dst) } -> std::same_as<Status>;
};

//! Shared bookkeeping: what was sent, in order, and how many bytes.
class TransferLog {
 public:
  void record(const TransferTag& tag, std::int64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    tags_.push_back(tag);
    bytes_ += bytes;
  }
  std::vector<TransferTag> tags() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return tags_;
  }
  std::int64_t bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<TransferTag> tags_;
  std::int64_t bytes_ = 0;
};

namespace detail {
inline Status check_chunk(std::span<const std::byte> src, std::span<std::byte> dst) {
  if (src.size() != dst.size()) {
    return Status::invalid_argument("transmit: source has " + std::to_string(src.size()) +
                                    " bytes, destination " + std::to_string(dst.size()));
  }
  return Status::ok();
}
}  // namespace detail

//! Sender and receiver in one process: a memcpy.
class InProcessTransport {
 public:
  Status transmit(const TransferTag& tag, std::span<const std::byte> src, std::span<std::byte> dst) {
    DROIDSPEAK_TRY(detail::check_chunk(src, dst));
    if (!src.empty()) std::memcpy(dst.data(), src.data(), src.size());
    log_.record(tag, static_cast<std::int64_t>(src.size()));
    return Status::ok();
  }
  const TransferLog& log() const { return log_; }

 private:
  TransferLog log_;
};

//! A link of `bytes_per_second` and a one-way `latency_seconds` per chunk: each transmit
//! copies the bytes and returns latency + bytes / bandwidth after it began, to within a few
//! microseconds (one chunk in flight at a time, as a single stream over the link).
class SimulatedLink {
 public:
  SimulatedLink(double bytes_per_second, double latency_seconds)
      : bytes_per_second_(bytes_per_second), latency_seconds_(latency_seconds) {}

  //! Bandwidth and latency must be positive and non-negative, and finite.
  Status validate() const {
    if (!(bytes_per_second_ > 0.0) || !(latency_seconds_ >= 0.0) ||
        bytes_per_second_ > 1e300 || latency_seconds_ > 1e6) {
      return Status::invalid_argument("simulated link: need bandwidth > 0 and latency >= 0, got " +
                                      std::to_string(bytes_per_second_) + " B/s and " +
                                      std::to_string(latency_seconds_) + " s");
    }
    return Status::ok();
  }

  Status transmit(const TransferTag& tag, std::span<const std::byte> src, std::span<std::byte> dst) {
    DROIDSPEAK_TRY(validate());
    DROIDSPEAK_TRY(detail::check_chunk(src, dst));
    const auto start = std::chrono::steady_clock::now();
    if (!src.empty()) std::memcpy(dst.data(), src.data(), src.size());
    const double seconds = latency_seconds_ + static_cast<double>(src.size()) / bytes_per_second_;
    wait_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(seconds)));
    log_.record(tag, static_cast<std::int64_t>(src.size()));
    return Status::ok();
  }
  double bytes_per_second() const { return bytes_per_second_; }
  double latency_seconds() const { return latency_seconds_; }
  const TransferLog& log() const { return log_; }

 private:
  //! Returns at `deadline`, not a timer tick after it: a plain sleep overshoots by tens of
  //! microseconds (the kernel's timer slack and the wake-up), which over a prefill's dozens
  //! of chunks would make the link slower than it says. So it sleeps to kSpinSeconds before
  //! the deadline and spins on the processor for the rest. Not yielding: with the engine's
  //! threads on every core, a yield handed the core away for a time slice, and a 0.12 ms KV
  //! chunk of the demo's run at 1 GB/s took 3.5 ms (5.5 ms with a plain sleep; 0.17 ms
  //! spinning).
  static void wait_until(std::chrono::steady_clock::time_point deadline) {
    using clock = std::chrono::steady_clock;
    const auto spin = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(kSpinSeconds));
    if (deadline - clock::now() > spin) std::this_thread::sleep_until(deadline - spin);
    while (clock::now() < deadline) cpu_relax();
  }
  static constexpr double kSpinSeconds = 150e-6;

  double bytes_per_second_;
  double latency_seconds_;
  TransferLog log_;
};

//! A non-owning reference to any Transport, chosen at run time (an in-process copy or a
//! simulated link, say) without making the caller a template. Copyable; the referenced
//! transport must outlive it. One indirect call per chunk.
class TransportRef {
 public:
  template <Transport T>
    requires(!std::same_as<std::remove_cvref_t<T>, TransportRef>)
  TransportRef(T& transport)  // NOLINT(google-explicit-constructor): a reference, like T& -> T&
      : object_(&transport),
        transmit_([](void* object, const TransferTag& tag, std::span<const std::byte> src,
                     std::span<std::byte> dst) { return static_cast<T*>(object)->transmit(tag, src, dst); }) {}

  Status transmit(const TransferTag& tag, std::span<const std::byte> src, std::span<std::byte> dst) const {
    return transmit_(object_, tag, src, dst);
  }

 private:
  void* object_;
  Status (*transmit_)(void*, const TransferTag&, std::span<const std::byte>, std::span<std::byte>);
};

static_assert(Transport<InProcessTransport>);
static_assert(Transport<SimulatedLink>);
static_assert(Transport<TransportRef>);

}}}  // namespace droidspeak::DROIDSPEAK_ABI::prefill
