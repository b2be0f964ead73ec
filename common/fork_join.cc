#include "common/fork_join.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace tide {

// One RunAll's tasks. A helper that arrives after the caller has taken the last task finds
// `next` past the end and leaves without touching `tasks`, which by then may be gone; the
// batch itself lives on in the helper's shared_ptr.
struct ForkJoinPool::Batch {
  const std::function<void()>* tasks;
  std::size_t size;
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::condition_variable done;
  std::size_t finished = 0;  // GUARDED_BY(mu)
  std::exception_ptr error;  // GUARDED_BY(mu): the first task's exception

  // Runs the next task not yet taken; false when none is left.
  bool RunNext() {
    const std::size_t i = next.fetch_add(1);
    if (i >= size) return false;
    std::exception_ptr thrown;
    try {
      tasks[i]();
    } catch (...) {
      thrown = std::current_exception();
    }
    std::lock_guard lock(mu);
    if (thrown != nullptr && error == nullptr) error = thrown;
    if (++finished == size) done.notify_all();
    return true;
  }
};

struct ForkJoinPool::Impl {
  explicit Impl(int threads) : pool(static_cast<std::size_t>(threads)) {}
  boost::asio::thread_pool pool;
};

ForkJoinPool::ForkJoinPool(int threads)
    : threads_(threads > 0 ? threads : 0), impl_(threads_ > 0 ? std::make_unique<Impl>(threads_) : nullptr) {}

ForkJoinPool::~ForkJoinPool() {
  if (impl_ != nullptr) impl_->pool.join();
}

void ForkJoinPool::RunAll(std::span<const std::function<void()>> tasks) {
  struct Caller {  // counted in callers_ while RunAll runs
    explicit Caller(std::atomic<int>* n) : n(n), others(n->fetch_add(1)) {}
    ~Caller() { n->fetch_sub(1); }
    std::atomic<int>* n;
    const int others;  // callers already running when this one came
  } caller(&callers_);
  auto batch = std::make_shared<Batch>();
  batch->tasks = tasks.data();
  batch->size = tasks.size();
  // One helper per task beyond the caller's first, as many as there are threads; none when
  // the others' callers keep them busy already.
  std::size_t helpers = std::min(tasks.size() - (tasks.empty() ? 0 : 1), static_cast<std::size_t>(threads_));
  if (caller.others >= threads_) helpers = 0;
  try {
    for (std::size_t h = 0; h < helpers; ++h) {
      boost::asio::post(impl_->pool, [batch] {
        while (batch->RunNext()) {
        }
      });
    }
  } catch (...) {
    // A helper that could not be posted (out of memory) leaves its tasks to the caller.
  }
  while (batch->RunNext()) {
  }
  std::exception_ptr error;
  {
    std::unique_lock lock(batch->mu);
    batch->done.wait(lock, [&] { return batch->finished == batch->size; });
    // Taken out of the batch: a helper may drop the batch's last reference after this returns,
    // and the exception must not be freed on that thread while the caller handles it.
    error = std::move(batch->error);
  }
  if (error != nullptr) std::rethrow_exception(error);
}

}  // namespace tide
