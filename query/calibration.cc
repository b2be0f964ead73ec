#include "query/calibration.h"

#include <cmath>

namespace tide::query {

double Calibration::Relevance(const RelevanceEvidence& e) const {
  const double z = intercept + score * e.score + coverage * e.coverage + cosine * e.cosine +
                   reciprocal_rank * e.reciprocal_rank;
  return 1.0 / (1.0 + std::exp(-z));
}

}  // namespace tide::query
