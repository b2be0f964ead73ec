#include "common/embedding/disk_cache_embedder.h"

#include <cstring>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "common/digest.h"
#include "common/embedding/cache_fill.h"

namespace tide::embedding {

struct DiskCacheEmbedder::Db {
  std::unique_ptr<rocksdb::DB> db;
};

DiskCacheEmbedder::DiskCacheEmbedder(std::unique_ptr<Embedder> inner, std::unique_ptr<Db> db, Counter* hits,
                                     Counter* misses)
    : inner_(std::move(inner)), db_(std::move(db)), hits_(hits), misses_(misses) {}

DiskCacheEmbedder::~DiskCacheEmbedder() = default;

Result<std::unique_ptr<DiskCacheEmbedder>> DiskCacheEmbedder::Open(std::unique_ptr<Embedder> inner,
                                                                   const std::filesystem::path& dir, Counter* hits,
                                                                   Counter* misses) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir.string(), &raw);
  if (!s.ok()) return Status::InvalidArgument("embedding cache " + dir.string() + ": " + s.ToString());
  auto db = std::make_unique<Db>();
  db->db.reset(raw);
  spdlog::info("embedding cache at {} for {}", dir.string(), inner->model_id());
  return std::unique_ptr<DiskCacheEmbedder>(new DiskCacheEmbedder(std::move(inner), std::move(db), hits, misses));
}

std::string DiskCacheEmbedder::Key(const std::string& text, InputType type) const {
  std::string material = inner_->model_id();
  material.push_back('\0');
  material.push_back(type == InputType::kQuery ? 'q' : 'p');
  material.push_back('\0');
  material += text;
  return Sha256Hex(material);
}

Status DiskCacheEmbedder::Embed(const std::vector<std::string>& texts, InputType type, std::vector<float>* out) {
  const auto dim = static_cast<std::size_t>(inner_->dimension());
  const std::size_t bytes = dim * sizeof(float);
  std::vector<std::string> keys;
  keys.reserve(texts.size());
  for (const std::string& t : texts) keys.push_back(Key(t, type));
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<std::string> values(texts.size());
  std::vector<rocksdb::Status> read = db_->db->MultiGet(rocksdb::ReadOptions(), slices, &values);
  std::vector<std::optional<std::vector<float>>> found(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (!read[i].ok() || values[i].size() != bytes) continue;  // missing (or another dimension's)
    found[i].emplace(dim);
    std::memcpy(found[i]->data(), values[i].data(), bytes);
  }
  rocksdb::WriteBatch batch;
  TIDE_RETURN_IF_ERROR(EmbedMissing(*inner_, texts, type, Deadline::max(), &found, hits_, misses_,
                                    [&](std::size_t i, const std::vector<float>& v) {
                                      batch.Put(keys[i], rocksdb::Slice(reinterpret_cast<const char*>(v.data()), bytes));
                                    }));
  if (batch.Count() > 0) {
    if (rocksdb::Status s = db_->db->Write(rocksdb::WriteOptions(), &batch); !s.ok()) {
      spdlog::warn("embedding cache: write failed, vectors not kept: {}", s.ToString());
    }
  }
  AppendFound(found, out);
  return Status();
}

}  // namespace tide::embedding
