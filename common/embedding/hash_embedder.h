#pragma once

#include <string>
#include <vector>

#include "common/analysis/analyzer.h"
#include "common/embedding/embedder.h"
#include "common/status.h"

namespace tide::embedding {

// A deterministic, model-free embedder: the feature-hashing trick over the words of the
// normalized text. It is LEXICAL, not semantic. Two texts are close when they share words,
// Korean stems and character n-grams ("서울에서 맛집" ~ "서울 맛집"), not when they mean the
// same thing with different words ("car" vs "automobile" are unrelated). Use it for tests,
// for deployments without a model server, and as a typo/spacing-tolerant signal.
//
// Features, per word from Analyzer::Words():
//   * the whole word, weight 1.0;
//   * Hangul words: the particle-stripped stem when it differs from the word (1.0), each
//     syllable (0.3) and each syllable bigram (0.7);
//   * Han words: each character (0.3) and each character bigram (0.7), like Hangul;
//   * Latin and other-script words: character trigrams of "<word>" with boundary markers
//     (0.5), so "<ex", "exc", ..., "el>" for "excel";
//   * digit words: the whole word only.
// A feature's value is weight * (1 + ln tf); it is added, with a sign, to one bucket. Both
// come from a 64-bit FNV-1a hash with a final avalanche mix, written out here (not
// std::hash), so vectors are the same on every platform and build. The vector is then
// L2-normalised. A text with no words ("", "!!!", only emoji) gets the all-zero vector, which
// is NOT unit length; callers that need a direction must treat it as "no signal".
//
// Queries and passages are embedded alike (it has no notion of either).
//
// Thread-safe: Embed() touches no shared mutable state. Never fails.
class HashEmbedder : public Embedder {
 public:
  struct Options {
    int dimension = 384;  // buckets; more buckets = fewer collisions, bigger index
  };

  // REQUIRES: options.dimension > 0.
  HashEmbedder();
  explicit HashEmbedder(Options options);

  const std::string& model_id() const override { return model_id_; }
  int dimension() const override { return dimension_; }
  Status Embed(const std::vector<std::string>& texts, InputType type, std::vector<float>* out) override;

 private:
  // Appends exactly dimension_ floats for `text`.
  void EmbedOne(const std::string& text, std::vector<float>* out) const;

  int dimension_;
  std::string model_id_;
  analysis::Analyzer analyzer_;
};

}  // namespace tide::embedding
