#include "common/fork_join.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace tide {
namespace {

using Clock = std::chrono::steady_clock;

// Polls `done` until it holds or ten seconds pass; whether it held.
bool WaitFor(const std::function<bool()>& done) {
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(ForkJoinPoolTest, EveryTaskRunsOnceWhateverThePoolSize) {
  for (int threads : {0, 1, 3}) {
    ForkJoinPool pool(threads);
    for (std::size_t n : {0u, 1u, 2u, 3u, 17u}) {
      std::vector<std::atomic<int>> runs(n);
      std::vector<std::function<void()>> tasks;
      for (std::size_t i = 0; i < n; ++i) tasks.push_back([&runs, i] { runs[i].fetch_add(1); });
      pool.RunAll(tasks);
      for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(runs[i].load(), 1) << threads << " threads, task " << i << " of " << n;
    }
  }
}

// Each of two tasks waits for the other to have started: they finish only if they run at once.
TEST(ForkJoinPoolTest, AnIdlePoolRunsTwoTasksAtOnce) {
  ForkJoinPool pool(1);
  std::atomic<bool> a_started{false}, b_started{false};
  bool a_saw_b = false, b_saw_a = false;
  std::vector<std::function<void()>> tasks = {
      [&] { a_started = true; a_saw_b = WaitFor([&] { return b_started.load(); }); },
      [&] { b_started = true; b_saw_a = WaitFor([&] { return a_started.load(); }); }};
  pool.RunAll(tasks);
  EXPECT_TRUE(a_saw_b);
  EXPECT_TRUE(b_saw_a);
  // Without helper threads they run one after the other, on the caller.
  ForkJoinPool none(0);
  a_started = b_started = false;
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::thread::id> ran_on;
  std::vector<std::function<void()>> ordered = {[&] { ran_on.push_back(std::this_thread::get_id()); },
                                                [&] { ran_on.push_back(std::this_thread::get_id()); }};
  none.RunAll(ordered);
  EXPECT_EQ(ran_on, (std::vector<std::thread::id>{caller, caller}));
}

// Both helpers are held by another request's tasks: a second request hands its tasks off (it
// is the only other caller) but runs them all on its own thread and returns, instead of
// waiting for a helper to take them.
TEST(ForkJoinPoolTest, ABusyPoolDoesNotHoldARequestUp) {
  ForkJoinPool pool(2);
  std::atomic<bool> release{false};
  std::atomic<int> held{0};
  std::vector<std::function<void()>> blocking(3, [&] {
    held.fetch_add(1);
    ASSERT_TRUE(WaitFor([&] { return release.load(); }));
  });
  std::thread first([&] { pool.RunAll(blocking); });
  // The first request's three tasks run: one on its caller, one on each helper.
  ASSERT_TRUE(WaitFor([&] { return held.load() == 3; }));
  std::atomic<int> ran{0};
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> all_on_caller{true};
  std::vector<std::function<void()>> mine(3, [&] {
    ran.fetch_add(1);
    if (std::this_thread::get_id() != caller) all_on_caller = false;
  });
  pool.RunAll(mine);
  EXPECT_EQ(ran.load(), 3);
  EXPECT_TRUE(all_on_caller.load());
  release = true;
  first.join();
}

// A task that throws, on the helper thread or the caller's: the others still run, and its
// exception reaches the caller (the HTTP server answers 500 for it) instead of ending the
// process. Without helper threads too.
TEST(ForkJoinPoolTest, AnExceptionReachesTheCallerAfterEveryTaskRan) {
  for (int run = 0; run < 6; ++run) {
    const int threads = run / 3, thrower = run % 3;
    ForkJoinPool pool(threads);
    std::atomic<int> ran{0};
    std::vector<std::function<void()>> tasks;
    for (int i = 0; i < 3; ++i) {
      tasks.push_back([&, i] {
        ran.fetch_add(1);
        if (i == thrower) throw std::runtime_error("task " + std::to_string(i));
      });
    }
    try {
      pool.RunAll(tasks);
      ADD_FAILURE() << threads << " threads: no exception from task " << thrower;
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()), "task " + std::to_string(thrower));
    }
    EXPECT_EQ(ran.load(), 3) << threads << " threads";
  }
}

}  // namespace
}  // namespace tide
