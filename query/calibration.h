#pragma once

// A hit's calibrated relevance (issue 13): the probability that a judge would call the hit
// relevant to its query, fitted on judged data, so that one threshold means the same for every
// query and intent. hits[].score cannot be that: it is relative to the query's own best
// (the first place of every retriever scores 1 however poor the match).
//
// The model is a logistic regression on evidence that does not depend on the other hits:
//   relevance = 1 / (1 + exp(-(intercept + Σ coefficient_i * evidence_i)))
// fitted per embedder profile and search mode by tests/quality/calibrate.py, with the
// coefficients and the figures of the fit in configs/search_rules.json ("calibration"). The fit
// is made with the rules' own fusion and weights, so a request that overrides either gets no
// relevance.

#include <string>

namespace tide::query {

// What a hit's relevance is judged on; each in [0, 1].
struct RelevanceEvidence {
  double score = 0;            // the fused score (hits[].score)
  double coverage = 0;         // the share of the query's own term weight that the chunk's
                               // title or text holds, as the keyword retrievers listed it
  double cosine = 0;           // the vector similarity, clamped to [0, 1]; 0 when the vector
                               // retriever did not list the chunk
  double reciprocal_rank = 0;  // 1 / (the chunk's 1-based place in the fused ranking)
};

// Coefficients of one fit.
struct Calibration {
  double intercept = 0;
  double score = 0;
  double coverage = 0;
  double cosine = 0;
  double reciprocal_rank = 0;
  std::string fitted_on;  // what the fit was made on (the set, its split, the commit)

  // The calibrated probability, in (0, 1).
  double Relevance(const RelevanceEvidence& e) const;
};

}  // namespace tide::query
