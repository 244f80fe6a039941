// SPDX-FileCopyrightText: 2026 The droidspeak authors
// SPDX-License-Identifier: Apache-2.0
//! @file A small fork-join thread pool: contiguous pieces claimed dynamically, so a thread
//! whose core is busy with another process takes fewer of them.
#pragma once

#include "droidspeak/core/config.hpp"
#include "droidspeak/core/cpu_relax.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace droidspeak { inline namespace DROIDSPEAK_ABI { namespace reference {

//! Runs `f(begin, end)` over contiguous pieces of [0, n) and waits. The pieces are fixed by n
//! and the thread count; which thread runs a piece is decided at run time (each thread
//! claims the next unclaimed piece), so on a loaded machine the threads that do get a core
//! do most of the work instead of every thread waiting for the slowest one.
//! Workers spin for some microseconds after a call, then sleep on a condition variable (so a
//! pool between prefills, or beside the BLAS's own threads, leaves the cores to others).
//! Results are deterministic whatever the thread count and whoever runs a piece, as long as
//! `f` computes each index independently of how [0, n) was split: in reference/ one output
//! row per index, or (the engine's attention) one index per thread's buffers, each thread
//! then claiming whole units whose results do not depend on who computes them.
//! Not reentrant: one parallel_for at a time, from the owning thread.
class ThreadPool {
 public:
  //! Pieces per thread: enough for load balancing, few enough that claiming stays cheap.
  static constexpr std::int64_t kPiecesPerThread = 4;
  //! CPU pauses a thread spins for the next job (a worker) or for the last piece (the caller)
  //! before it sleeps on the condition variable: some microseconds.
  static constexpr int kSpinRounds = 2000;

  //! @param num_threads threads including the caller; 0 means hardware_concurrency().
  //! @param pieces_per_thread pieces a split loop is cut into per thread (at least 1; 1 is
  //!   a static split, one piece per thread).
  explicit ThreadPool(int num_threads = 0, int pieces_per_thread = kPiecesPerThread)
      : pieces_per_thread_(std::max(1, pieces_per_thread)) {
    if (num_threads <= 0) num_threads = static_cast<int>(std::thread::hardware_concurrency());
    num_threads_ = std::max(1, num_threads);
    for (int t = 1; t < num_threads_; ++t) workers_.emplace_back([this] { work(); });
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

  //! Calls f(begin, end) on pieces covering [0, n); the caller takes part.
  //! `min_per_thread` keeps small loops on the calling thread: a loop is split only into
  //! pieces of at least that many indices (a fork-join costs tens of microseconds, more
  //! under load, so a split must pay for it).
  template <class F>
  void parallel_for(std::int64_t n, F&& f, std::int64_t min_per_thread = 1) {
    if (n <= 0) return;
    const std::int64_t min_piece = std::max<std::int64_t>(1, min_per_thread);
    const std::int64_t threads = std::min<std::int64_t>(num_threads_, std::max<std::int64_t>(1, n / min_piece));
    if (threads <= 1) {
      f(std::int64_t{0}, n);
      return;
    }
    const std::int64_t pieces =
        std::max(threads, std::min<std::int64_t>(threads * pieces_per_thread_, n / min_piece));
    auto call = [](const void* fn, std::int64_t b, std::int64_t e) {
      (*static_cast<const std::remove_reference_t<F>*>(fn))(b, e);
    };
    std::uint64_t gen = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      gen = generation_.load(std::memory_order_relaxed) + 1;
      fn_ = &f;
      call_ = call;
      n_ = n;
      pieces_ = pieces;
      done_pieces_.store(0, std::memory_order_relaxed);
      next_.store(gen << 32, std::memory_order_release);
      generation_.store(gen, std::memory_order_release);
    }
    wake_.notify_all();
    run_pieces(gen, &f, call, n, pieces);
    for (int i = 0; i < kSpinRounds && done_pieces_.load(std::memory_order_acquire) != pieces; ++i) cpu_relax();
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return done_pieces_.load(std::memory_order_acquire) == pieces; });
  }

 private:
  // Claims and runs pieces of job `gen` until none is left. The claim counter carries the
  // job's generation in its high half, so a worker that wakes late cannot claim a piece of
  // a later job with an earlier job's function.
  void run_pieces(std::uint64_t gen, const void* fn,
                  void (*call)(const void*, std::int64_t, std::int64_t), std::int64_t n,
                  std::int64_t pieces) {
    for (;;) {
      std::uint64_t v = next_.load(std::memory_order_acquire);
      std::int64_t k = 0;
      do {
        if ((v >> 32) != (gen & 0xFFFFFFFFu)) return;
        k = static_cast<std::int64_t>(v & 0xFFFFFFFFu);
        if (k >= pieces) return;
      } while (!next_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel));
      call(fn, n * k / pieces, n * (k + 1) / pieces);
      if (done_pieces_.fetch_add(1, std::memory_order_acq_rel) + 1 == pieces) {
        std::lock_guard<std::mutex> lock(mu_);
        done_.notify_one();
      }
    }
  }

  void work() {
    std::uint64_t seen = 0;
    for (;;) {
      // A short spin first: a prefill calls parallel_for hundreds of times, and a wake-up
      // through the condition variable costs tens of microseconds each time. The spin is
      // bounded (kSpinRounds pauses, some microseconds), so an idle or descheduled pool
      // still sleeps and leaves the core to others.
      for (int i = 0; i < kSpinRounds && generation_.load(std::memory_order_acquire) == seen; ++i) cpu_relax();
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_relaxed) != seen; });
      if (stop_) return;
      seen = generation_.load(std::memory_order_relaxed);
      const void* fn = fn_;
      void (*call)(const void*, std::int64_t, std::int64_t) = call_;
      const std::int64_t n = n_, pieces = pieces_;
      lock.unlock();
      run_pieces(seen, fn, call, n, pieces);
    }
  }

  int num_threads_ = 1;
  int pieces_per_thread_ = kPiecesPerThread;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  bool stop_ = false;
  const void* fn_ = nullptr;
  void (*call_)(const void*, std::int64_t, std::int64_t) = nullptr;
  std::int64_t n_ = 0;
  std::int64_t pieces_ = 0;
  std::atomic<std::uint64_t> next_{0};      // (generation << 32) | next piece
  // The job's number: written under mu_ with the job, read without it by the workers' spin.
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::int64_t> done_pieces_{0};
};

}}}  // namespace droidspeak::DROIDSPEAK_ABI::reference
