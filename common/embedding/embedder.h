#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace tide::embedding {

// Turns texts into dense vectors for the vector index. Implementations may be local
// (HashEmbedder) or remote (a model server); callers see only this interface.
//
// Thread-safety: implementations must allow concurrent Embed() calls.
class Embedder {
 public:
  virtual ~Embedder() = default;

  // Identifies the model and its parameters ("hash-v1-d384"). It is stored with the index;
  // an index built with another model_id refuses to start, since its vectors are not
  // comparable with this embedder's.
  virtual const std::string& model_id() const = 0;

  // Length of every vector Embed() produces.
  virtual int dimension() const = 0;

  // Appends one L2-normalised vector per text to *out, in order, so out->size() grows by
  // texts.size() * dimension(). On error *out is left as it was.
  // Errors: Unavailable = transient, retry later; InvalidArgument = this input can never be
  // embedded (do not retry).
  // REQUIRES: out != nullptr.
  virtual Status Embed(const std::vector<std::string>& texts, std::vector<float>* out) = 0;
};

}  // namespace tide::embedding
