#pragma once

#include <cmath>
#include <random>
#include <vector>

namespace tide::testutil {

// A random direction: `dim` normal draws from `rng`, scaled to unit length (the vectors the
// index stores are L2-normalised).
inline std::vector<float> RandomUnitVector(std::mt19937& rng, int dim) {
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<std::size_t>(dim));
  float norm = 0;
  for (float& x : v) {
    x = normal(rng);
    norm += x * x;
  }
  for (float& x : v) x /= std::sqrt(norm);
  return v;
}

}  // namespace tide::testutil
