#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace tide::embedding {

// What a text is to the model. Retrieval models are trained with queries and passages told
// apart (E5: "query: " / "passage: " prefixes; others an instruction or an input_type field),
// and a vector space built from passages must be searched with query vectors.
enum class InputType { kPassage, kQuery };

// Turns texts into dense vectors for the vector index. Implementations may be local
// (HashEmbedder) or remote (a model server); callers see only this interface.
//
// Thread-safety: implementations must allow concurrent Embed() calls.
class Embedder {
 public:
  virtual ~Embedder() = default;

  // Identifies the model and everything that shapes its vectors: parameters, and how query and
  // passage texts are presented to it ("hash-v1-d384",
  // "openai:e5-small:d384:query{input_type=query}:passage{input_type=passage}"). It is stored
  // with the index; a process configured with another model_id refuses to start, since its
  // vectors are not comparable with the stored ones.
  virtual const std::string& model_id() const = 0;

  // Length of every vector Embed() produces.
  virtual int dimension() const = 0;

  // Appends one L2-normalised vector per text to *out, in order, so out->size() grows by
  // texts.size() * dimension(). `type` says whether the texts are search queries or stored
  // passages. On error *out is left as it was.
  // Errors: Unavailable = transient, retry later; InvalidArgument = this input can never be
  // embedded (do not retry).
  // REQUIRES: out != nullptr.
  virtual Status Embed(const std::vector<std::string>& texts, InputType type, std::vector<float>* out) = 0;

  using Deadline = std::chrono::steady_clock::time_point;
  // Embed() that gives up at `deadline` (DeadlineExceeded): no request, retry or backoff
  // runs past it. A search embeds its query with the search's deadline. Embedders whose calls
  // are local and short ignore the deadline (this default).
  virtual Status EmbedBefore(const std::vector<std::string>& texts, InputType type, Deadline deadline,
                             std::vector<float>* out) {
    (void)deadline;
    return Embed(texts, type, out);
  }
};

}  // namespace tide::embedding
