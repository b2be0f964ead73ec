#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>

namespace tide {

// Runs the independent parts of one request at once: a search's retriever lists (title BM25,
// body BM25, the vector list) on two cores instead of one after another.
//
// The calling thread takes part: RunAll's caller and the pool's threads take the tasks in
// turn, each task once, and the caller never waits for a task no thread has started. So a
// pool kept busy by other requests costs a request nothing but the hand-off: its caller runs
// its own tasks one after another, as without a pool, and no request can deadlock on another.
// A caller that finds as many others running as there are helper threads hands nothing off:
// the cores are busy already with requests of their own, and a hand-off would only add
// switching between threads (measured at eight connections: 120-122 searches a second without
// this rule, 124-132 without a pool).
//
// Thread safety: RunAll may be called from any number of threads at once.
class ForkJoinPool {
 public:
  // `threads` helper threads; 0 makes RunAll run every task on its caller, in order.
  explicit ForkJoinPool(int threads);
  // Waits for the helpers to finish the tasks they took.
  ~ForkJoinPool();
  ForkJoinPool(const ForkJoinPool&) = delete;
  ForkJoinPool& operator=(const ForkJoinPool&) = delete;

  // Runs every task once and returns when all have finished. If tasks throw, the others still
  // run, and the first exception is rethrown here, on the caller, once all have finished.
  void RunAll(std::span<const std::function<void()>> tasks);

  int threads() const { return threads_; }

 private:
  struct Batch;
  struct Impl;
  const int threads_;
  std::atomic<int> callers_{0};  // RunAll calls running
  std::unique_ptr<Impl> impl_;  // null without helper threads
};

}  // namespace tide
