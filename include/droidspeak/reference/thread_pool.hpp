// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file A small fork-join thread pool with static, contiguous work splitting.
#pragma once

#include "droidspeak/core/config.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace droidspeak::inline DROIDSPEAK_ABI::reference {

//! Runs `f(begin, end)` over contiguous pieces of [0, n), one piece per thread, and waits.
//! Workers sleep on a condition variable between calls (they never spin, so they leave the
//! cores to the BLAS's own threads). Results are deterministic whatever the thread count as
//! long as `f` computes each index independently of how [0, n) was split — which is how every
//! caller in reference/ uses it (one output row per index).
//! Not reentrant: one parallel_for at a time, from the owning thread.
class ThreadPool {
 public:
  //! @param num_threads threads including the caller; 0 means hardware_concurrency().
  explicit ThreadPool(int num_threads = 0) {
    if (num_threads <= 0) num_threads = static_cast<int>(std::thread::hardware_concurrency());
    num_threads_ = std::max(1, num_threads);
    for (int t = 1; t < num_threads_; ++t) workers_.emplace_back([this, t] { work(t); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const noexcept { return num_threads_; }

  //! Calls f(begin, end) on pieces covering [0, n); the caller runs the first piece.
  //! `min_per_thread` keeps tiny loops on the calling thread.
  template <class F>
  void parallel_for(std::int64_t n, F&& f, std::int64_t min_per_thread = 1) {
    if (n <= 0) return;
    const std::int64_t threads =
        std::min<std::int64_t>(num_threads_, std::max<std::int64_t>(1, n / std::max<std::int64_t>(1, min_per_thread)));
    if (threads <= 1) {
      f(std::int64_t{0}, n);
      return;
    }
    auto call = [](const void* fn, std::int64_t b, std::int64_t e) {
      (*static_cast<const std::remove_reference_t<F>*>(fn))(b, e);
    };
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &f;
      call_ = call;
      n_ = n;
      pieces_ = threads;
      pending_ = static_cast<int>(threads - 1);
      ++generation_;
    }
    wake_.notify_all();
    f(std::int64_t{0}, n / threads);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return pending_ == 0; });
  }

 private:
  void work(int index) {
    std::uint64_t seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= pieces_) continue;
      const std::int64_t b = n_ * index / pieces_, e = n_ * (index + 1) / pieces_;
      const void* fn = fn_;
      void (*call)(const void*, std::int64_t, std::int64_t) = call_;
      lock.unlock();
      call(fn, b, e);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  int num_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
  const void* fn_ = nullptr;
  void (*call_)(const void*, std::int64_t, std::int64_t) = nullptr;
  std::int64_t n_ = 0;
  std::int64_t pieces_ = 0;
  int pending_ = 0;
};

}  // namespace droidspeak::inline DROIDSPEAK_ABI::reference
