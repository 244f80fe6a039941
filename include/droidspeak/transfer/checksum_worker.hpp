// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file A thread that sums checksum lanes of chunk pieces while the caller's thread receives
//! the next piece. No UCX needed.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/transfer/checksum.hpp"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <thread>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace transfer {

//! One background thread, one owner thread. The owner submits pieces of one chunk, then
//! collect()s their summed lanes; collect() returns only once no submitted piece is being read,
//! so the owner may reuse the memory right after. Submitted spans must stay valid until then.
class ChecksumWorker {
 public:
  ChecksumWorker() : thread_([this] { loop(); }) {}
  ChecksumWorker(const ChecksumWorker&) = delete;
  ChecksumWorker& operator=(const ChecksumWorker&) = delete;
  ~ChecksumWorker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  //! Queues `piece` `[size]`, which starts at stripe `first_stripe` of its chunk.
  void submit(std::span<const std::byte> piece, std::uint64_t first_stripe) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back({piece, first_stripe});
    }
    wake_.notify_all();
  }

  //! Waits until every submitted piece is summed; returns their lanes and starts afresh.
  ChecksumLanes collect() {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return queue_.empty() && !busy_; });
    const ChecksumLanes out = sum_;
    sum_ = {};
    return out;
  }

 private:
  struct Job {
    std::span<const std::byte> piece;
    std::uint64_t first_stripe = 0;
  };

  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      const Job job = queue_.front();
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      const ChecksumLanes lanes = checksum_lanes(job.piece, job.first_stripe);
      lock.lock();
      sum_ += lanes;
      busy_ = false;
      if (queue_.empty()) done_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  ChecksumLanes sum_;
  std::thread thread_;  // last: starts after every member above is constructed
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::transfer
