#include "common/embedding/factory.h"

#include "common/embedding/hash_embedder.h"

namespace tide::embedding {

Result<std::unique_ptr<Embedder>> MakeEmbedder(const EmbedderConfig& config) {
  if (config.kind == "hash") {
    if (config.dimension < 8 || config.dimension > 4096) {
      return Status::InvalidArgument("embedder.dimension must be in [8, 4096], got " +
                                     std::to_string(config.dimension));
    }
    HashEmbedder::Options options;
    options.dimension = config.dimension;
    return std::unique_ptr<Embedder>(std::make_unique<HashEmbedder>(options));
  }
  return Status::InvalidArgument("unknown embedder.kind '" + config.kind + "' (supported: hash)");
}

}  // namespace tide::embedding
