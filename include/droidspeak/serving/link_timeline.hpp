// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file One link shared by many requests: `LinkTimeline` reserves the link for a request's
//! chunks when the request arrives, first come first served, so the next request's bytes
//! cross while the receiver still recomputes the current one; `ReservedLinkTransport` is the
//! prefill::Transport of one request over its reservation (it waits for each chunk's reserved
//! arrival, then copies the bytes). Each chunk occupies the link for latency + bytes /
//! bandwidth, one chunk at a time: the model of prefill::SimulatedLink and of the cost model
//! (plan/cost_model.hpp), kept across requests instead of restarting with each.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/status.hpp"
#include "droidspeak/prefill/schedule.hpp"
#include "droidspeak/prefill/transport.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace serving {

//! One chunk's slot on the link. Times in seconds on the replay's clock.
struct ReservedChunk {
  prefill::TransferTag tag;
  std::int64_t bytes = 0;
  double start = 0.0;    //!< the link begins sending it
  double arrives = 0.0;  //!< start + latency + bytes / bandwidth: it has landed
};

//! A request's chunks in the order its schedule sends them (E of every entry layer, then the
//! KV of every reused layer), each with its slot on the link.
struct LinkReservation {
  double request_arrival = 0.0;
  std::vector<ReservedChunk> chunks;
  //! When the last chunk lands (the request's arrival when nothing crosses the link).
  double last_arrival() const { return chunks.empty() ? request_arrival : chunks.back().arrives; }
};

//! The link's calendar: plain arithmetic on seconds, no clock and no threads (one caller).
//! The link serves requests in arrival order and never idles while a reserved chunk waits;
//! it does not wait for the receiver to adopt a chunk (a network keeps delivering into the
//! receiver's landing buffers), which SimulatedLink, one blocking call per chunk, cannot show.
class LinkTimeline {
 public:
  //! An empty timeline that refuses every reservation; make one with create().
  LinkTimeline() = default;

  //! Bandwidth finite and > 0 bytes per second, latency finite and >= 0 seconds per chunk
  //! (the checks of prefill::SimulatedLink::validate).
  static Result<LinkTimeline> create(double bytes_per_second, double latency_seconds) {
    DROIDSPEAK_TRY(prefill::SimulatedLink(bytes_per_second, latency_seconds).validate().with_context("link timeline"));
    LinkTimeline t;
    t.bytes_per_second_ = bytes_per_second;
    t.latency_seconds_ = latency_seconds;
    return t;
  }

  //! Reserves the link for the transfer-lane sends of `schedule` (kSendE and kSendKv, in list
  //! order; adoptions use no link time) of a request arriving at `arrival` seconds: the first
  //! chunk starts at max(arrival, when the link is free), each next one when the previous one
  //! has left the link. Make the reservation at the request's arrival, or later but in arrival
  //! order: it depends only on earlier reservations and on `arrival`. Fails on an arrival that
  //! is not finite, >= 0 and >= every earlier one (first come first served).
  Result<LinkReservation> reserve(double arrival, const prefill::Schedule& schedule) {
    if (!std::isfinite(arrival) || arrival < 0.0 || arrival < last_request_) {
      return Status::invalid_argument("link timeline: request arrivals must be finite, >= 0 and in order; got " +
                                      std::to_string(arrival) + " s after one at " + std::to_string(last_request_) +
                                      " s");
    }
    if (!(bytes_per_second_ > 0.0)) return Status::invalid_argument("link timeline: not made by create()");
    last_request_ = arrival;
    LinkReservation r;
    r.request_arrival = arrival;
    double t = std::max(arrival, free_at_);
    for (const prefill::ScheduleStep& step : schedule.steps) {
      if (step.kind != prefill::StepKind::kSendE && step.kind != prefill::StepKind::kSendKv) continue;
      const prefill::Payload payload =
          step.kind == prefill::StepKind::kSendE ? prefill::Payload::kE : prefill::Payload::kKv;
      const double end = t + latency_seconds_ + static_cast<double>(step.bytes) / bytes_per_second_;
      r.chunks.push_back({{payload, step.first_layer}, step.bytes, t, end});
      t = end;
    }
    free_at_ = std::max(free_at_, t);
    return r;
  }

  //! When the link finishes the chunks reserved so far (0 before any).
  double free_at() const { return free_at_; }
  double bytes_per_second() const { return bytes_per_second_; }
  double latency_seconds() const { return latency_seconds_; }

 private:
  double bytes_per_second_ = 0.0;
  double latency_seconds_ = 0.0;
  double free_at_ = 0.0;
  double last_request_ = 0.0;
};

//! The Transport of one request over its LinkReservation: the k-th transmit must carry the
//! k-th reserved chunk (same tag, same size); it waits until that chunk's reserved arrival
//! (`epoch` + arrives on the steady clock; no wait when that time has passed: the bytes crossed
//! while the receiver was busy) and then copies the bytes. Every wait is bounded: a chunk that
//! would land more than `max_wait_seconds` from the call is refused with a Status instead of
//! sleeping that long. Called from one thread at a time, as every Transport.
class ReservedLinkTransport {
 public:
  using Clock = std::chrono::steady_clock;

  //! `max_wait_seconds` finite and >= 0 (checked by each transmit).
  ReservedLinkTransport(LinkReservation reservation, Clock::time_point epoch, double max_wait_seconds)
      : reservation_(std::move(reservation)), epoch_(epoch), max_wait_seconds_(max_wait_seconds) {}

  Status transmit(const prefill::TransferTag& tag, std::span<const std::byte> src, std::span<std::byte> dst) {
    if (!(max_wait_seconds_ >= 0.0) || !std::isfinite(max_wait_seconds_)) {
      return Status::invalid_argument("reserved link: max_wait_seconds must be finite and >= 0");
    }
    if (next_ >= reservation_.chunks.size()) {
      return Status::invalid_argument("reserved link: chunk " + std::to_string(next_ + 1) + " sent, only " +
                                      std::to_string(reservation_.chunks.size()) + " reserved");
    }
    const ReservedChunk& chunk = reservation_.chunks[next_];
    if (!(tag == chunk.tag) || static_cast<std::int64_t>(src.size()) != chunk.bytes) {
      return Status::invalid_argument(
          "reserved link: chunk " + std::to_string(next_) + " is " + describe(tag, src.size()) + ", the reservation is " +
          describe(chunk.tag, static_cast<std::size_t>(chunk.bytes)));
    }
    if (src.size() != dst.size()) {
      return Status::invalid_argument("reserved link: source has " + std::to_string(src.size()) +
                                      " bytes, destination " + std::to_string(dst.size()));
    }
    const auto lands = epoch_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(chunk.arrives));
    const double wait = std::chrono::duration<double>(lands - Clock::now()).count();
    if (wait > max_wait_seconds_) {
      return Status::out_of_range("reserved link: " + describe(tag, src.size()) + " lands in " + std::to_string(wait) +
                                  " s, beyond the " + std::to_string(max_wait_seconds_) + " s wait allowed");
    }
    if (wait > 0.0) std::this_thread::sleep_until(lands);
    if (!src.empty()) std::memcpy(dst.data(), src.data(), src.size());
    log_.record(tag, static_cast<std::int64_t>(src.size()));
    ++next_;
    return Status::ok();
  }

  //! How many reserved chunks have been transmitted.
  std::size_t chunks_sent() const { return next_; }
  const LinkReservation& reservation() const { return reservation_; }
  const prefill::TransferLog& log() const { return log_; }

 private:
  static std::string describe(const prefill::TransferTag& tag, std::size_t bytes) {
    return std::string(tag.payload == prefill::Payload::kE ? "E" : "KV") + " of layer " + std::to_string(tag.layer) +
           " (" + std::to_string(bytes) + " bytes)";
  }

  LinkReservation reservation_;
  Clock::time_point epoch_;
  double max_wait_seconds_;
  std::size_t next_ = 0;
  prefill::TransferLog log_;
};

static_assert(prefill::Transport<ReservedLinkTransport>);

}}}  // namespace droidspeak::DROIDSPEAK_ABI::serving
