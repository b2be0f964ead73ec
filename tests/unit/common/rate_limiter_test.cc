#include "common/rate_limiter.h"

#include <chrono>

#include <gtest/gtest.h>

namespace tide {
namespace {

using std::chrono::milliseconds;
using Clock = RateLimiter::Clock;

TEST(RateLimiterTest, BurstThenRateAndHowLongToWait) {
  RateLimiter limiter;
  const RateLimiter::Limit two_per_second{2, 3};
  const Clock::time_point t0{};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("rag", two_per_second, t0), Clock::duration::zero()) << i;
  // Empty: the next token comes in half a second.
  EXPECT_EQ(limiter.Acquire("rag", two_per_second, t0), milliseconds(500));
  EXPECT_EQ(limiter.Acquire("rag", two_per_second, t0 + milliseconds(300)), milliseconds(200));
  EXPECT_EQ(limiter.Acquire("rag", two_per_second, t0 + milliseconds(500)), Clock::duration::zero());
  // Another name has a bucket of its own.
  EXPECT_EQ(limiter.Acquire("other", two_per_second, t0 + milliseconds(500)), Clock::duration::zero());
  // A long pause refills to the burst, not beyond.
  const Clock::time_point later = t0 + std::chrono::seconds(60);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("rag", two_per_second, later), Clock::duration::zero()) << i;
  EXPECT_GT(limiter.Acquire("rag", two_per_second, later), Clock::duration::zero());
}

TEST(RateLimiterTest, UnlimitedAlwaysPassesAndANewLimitAppliesAtOnce) {
  RateLimiter limiter;
  const Clock::time_point t0{};
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(limiter.Acquire("ops", {}, t0), Clock::duration::zero());
  // The bucket keeps its level across a change of limit (a reloaded keys file), capped by the new burst.
  EXPECT_EQ(limiter.Acquire("rag", {100, 100}, t0), Clock::duration::zero());
  EXPECT_EQ(limiter.Acquire("rag", {1, 1}, t0), Clock::duration::zero());
  EXPECT_EQ(limiter.Acquire("rag", {1, 1}, t0), std::chrono::seconds(1));
}

}  // namespace
}  // namespace tide
