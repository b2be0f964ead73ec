#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace tide {

// Token buckets by name (an API key's name): each holds up to `burst` tokens and refills at
// `per_second`; a request takes one. The rate and burst come with each call, so a reloaded
// configuration applies at once while a bucket's fill level carries over. Thread-safe.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limit {
    double per_second = 0;  // <= 0: unlimited
    double burst = 0;       // at least 1 when limited
  };

  // Zero if the request may go (its token taken), or how long until a token is there.
  Clock::duration Acquire(const std::string& name, const Limit& limit, Clock::time_point now = Clock::now());

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point refilled;
  };
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;  // GUARDED_BY(mu_)
};

}  // namespace tide
