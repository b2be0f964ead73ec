#pragma once

#include <memory>
#include <string>

#include "common/embedding/embedder.h"
#include "common/status.h"

namespace tide::embedding {

struct EmbedderConfig {
  std::string kind = "hash";  // "hash": built-in, model-free, lexical
  int dimension = 384;
};

Result<std::unique_ptr<Embedder>> MakeEmbedder(const EmbedderConfig& config);

}  // namespace tide::embedding
