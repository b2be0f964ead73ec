#include "common/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace tide {

RateLimiter::Clock::duration RateLimiter::Acquire(const std::string& name, const Limit& limit, Clock::time_point now) {
  if (limit.per_second <= 0) return Clock::duration::zero();
  const double burst = std::max(1.0, limit.burst);
  std::lock_guard lock(mu_);
  auto [it, fresh] = buckets_.try_emplace(name, Bucket{burst, now});
  Bucket& b = it->second;
  if (!fresh && now > b.refilled) {
    const double elapsed = std::chrono::duration<double>(now - b.refilled).count();
    b.tokens = std::min(burst, b.tokens + elapsed * limit.per_second);
    b.refilled = now;
  }
  b.tokens = std::min(b.tokens, burst);  // a lowered burst applies at once
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return Clock::duration::zero();
  }
  const double wait_s = (1 - b.tokens) / limit.per_second;
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_s));
}

}  // namespace tide
