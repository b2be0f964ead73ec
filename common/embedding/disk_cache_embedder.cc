#include "common/embedding/disk_cache_embedder.h"

#include <cstring>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include "common/digest.h"
#include "common/metrics.h"

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
  std::vector<rocksdb::Status> found = db_->db->MultiGet(rocksdb::ReadOptions(), slices, &values);
  std::vector<std::string> missing;
  std::vector<std::size_t> missing_at;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (!found[i].ok() || values[i].size() != bytes) {
      missing.push_back(texts[i]);
      missing_at.push_back(i);
    }
  }
  if (hits_ != nullptr) hits_->Inc(texts.size() - missing.size());
  if (misses_ != nullptr) misses_->Inc(missing.size());
  std::vector<float> fresh;
  if (!missing.empty()) {
    TIDE_RETURN_IF_ERROR(inner_->Embed(missing, type, &fresh));
    if (fresh.size() != missing.size() * dim) {
      return Status::Internal("embedder returned " + std::to_string(fresh.size()) + " floats for " +
                              std::to_string(missing.size()) + " texts");
    }
    rocksdb::WriteBatch batch;
    for (std::size_t j = 0; j < missing.size(); ++j) {
      std::string& v = values[missing_at[j]];
      v.assign(reinterpret_cast<const char*>(fresh.data() + j * dim), bytes);
      batch.Put(keys[missing_at[j]], v);
    }
    if (rocksdb::Status s = db_->db->Write(rocksdb::WriteOptions(), &batch); !s.ok()) {
      spdlog::warn("embedding cache: write failed, vectors not kept: {}", s.ToString());
    }
  }
  const std::size_t start = out->size();
  out->resize(start + texts.size() * dim);
  for (std::size_t i = 0; i < texts.size(); ++i) std::memcpy(out->data() + start + i * dim, values[i].data(), bytes);
  return Status();
}

}  // namespace tide::embedding
