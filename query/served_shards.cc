#include "query/served_shards.h"

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>

#include <spdlog/spdlog.h>

#include "common/storage/schema.h"
#include "common/storage/store.h"

namespace tide::query {

Result<std::uint64_t> ShardLabel(std::uint32_t shard, std::uint64_t own) {
  if (OwnLabel(own) != own) return Status::Internal("a chunk label does not fit 48 bits");
  if (shard >= (1U << (64 - kShardLabelShift))) return Status::Internal("a shard number does not fit 16 bits");
  return (static_cast<std::uint64_t>(shard) << kShardLabelShift) | own;
}

namespace {

// How often a per-partition set looks for shard directories that appeared.
constexpr std::chrono::seconds kScanInterval{1};

std::string Prefixed(const std::string& name, const std::string& text) {
  return name.empty() ? text : "partition " + name + ": " + text;
}

// Gives each hit of shard `shard` its label across shards.
template <typename Hit>
Status ToShardLabels(std::uint32_t shard, std::vector<Hit>* hits) {
  for (Hit& h : *hits) {
    Result<std::uint64_t> label = ShardLabel(shard, h.label);
    if (!label) return label.status();
    h.label = *label;
  }
  return Status();
}

// A search over shards this process follows: each names containers by its own ordinals.
class LocalShardSearch final : public ShardSearch {
 public:
  // `pool` (may be null: one list after another) runs the lists of SearchLists.
  LocalShardSearch(std::vector<ServedShards::Shard> shards, const std::vector<std::string>& container_ids,
                   ForkJoinPool* pool)
      : shards_(std::move(shards)), container_ids_(container_ids), pool_(pool) {
    for (const ServedShards::Shard& s : shards_) scopes_.push_back(s.indexes->ResolveContainers(container_ids));
  }

  std::size_t shards() const override { return shards_.size(); }

  Result<std::vector<bool>> TermsInScope(const std::vector<std::string>& terms) override {
    std::vector<bool> in(terms.size(), false);
    for (std::size_t i = 0; i < shards_.size(); ++i) {
      const std::vector<bool> one = shards_[i].indexes->KeywordTermsInScope(terms, scopes_[i]);
      for (std::size_t j = 0; j < terms.size(); ++j) in[j] = in[j] || one[j];
    }
    return in;
  }

  Result<std::vector<std::size_t>> DocFrequencies(const std::vector<std::string>& terms) override {
    std::vector<std::size_t> df(terms.size(), 0);
    for (std::size_t i = 0; i < shards_.size(); ++i) {
      const std::vector<std::size_t> one = shards_[i].indexes->KeywordDocFrequencies(terms, scopes_[i]);
      for (std::size_t j = 0; j < terms.size(); ++j) df[j] += one[j];
    }
    return df;
  }

  Status AddKeywordStatistics(const std::vector<index::Field>& fields, const std::vector<std::string>& terms,
                              std::vector<index::KeywordStatistics>* sums) override {
    sums->resize(fields.size());
    for (std::size_t f = 0; f < fields.size(); ++f) {
      for (std::size_t i = 0; i < shards_.size(); ++i) {
        shards_[i].indexes->AddKeywordStatistics(fields[f], terms, scopes_[i], &(*sums)[f]);
      }
    }
    return Status();
  }

  // Each list (the vector list, each keyword field's) is one task over every shard, and the
  // tasks run at once on the list pool when there is one.
  Result<ShardLists> SearchLists(const ListsRequest& request) override {
    ShardLists out;
    // A list that would start after the deadline is skipped: what was found in time answers.
    std::atomic<bool> timed_out{false};
    auto late = [&] {
      if (request.deadline == std::chrono::steady_clock::time_point::max() ||
          std::chrono::steady_clock::now() < request.deadline) {
        return false;
      }
      timed_out = true;
      return true;
    };
    std::vector<std::function<void()>> tasks;
    std::vector<Status> failed(request.keyword.size() + 1);  // by task
    if (request.vector != nullptr) {
      tasks.push_back([&, t = tasks.size()] {
        if (late()) return;
        std::vector<index::VectorHit> hits;
        for (std::size_t i = 0; i < shards_.size(); ++i) {
          Result<std::vector<index::VectorHit>> one =
              shards_[i].indexes->SearchVector(*request.vector, request.k, scopes_[i], request.filter);
          if (!one) {
            failed[t] = one.status();
            return;
          }
          if (failed[t] = ToShardLabels(shards_[i].number, &*one); !failed[t].ok()) return;
          hits.insert(hits.end(), one->begin(), one->end());
        }
        if (shards_.size() > 1) MergeByScore(&hits, request.k);
        out.vector = std::move(hits);
      });
    }
    out.keyword.resize(request.keyword.size());
    for (std::size_t k = 0; k < request.keyword.size(); ++k) {
      tasks.push_back([&, k, t = tasks.size()] {
        if (late()) return;
        const ListsRequest::Keyword& list = request.keyword[k];
        std::vector<index::KeywordHit> hits;
        for (std::size_t i = 0; i < shards_.size(); ++i) {
          std::vector<index::KeywordHit> one = shards_[i].indexes->SearchKeyword(
              list.field, *request.terms, request.k, scopes_[i], request.filter, request.term_weights, list.global);
          if (failed[t] = ToShardLabels(shards_[i].number, &one); !failed[t].ok()) return;
          hits.insert(hits.end(), std::make_move_iterator(one.begin()), std::make_move_iterator(one.end()));
        }
        if (shards_.size() > 1) MergeByScore(&hits, request.k);
        out.keyword[k] = std::move(hits);
      });
    }
    if (pool_ != nullptr) {
      pool_->RunAll(tasks);
    } else {
      for (const std::function<void()>& task : tasks) task();
    }
    for (const Status& s : failed) TIDE_RETURN_IF_ERROR(s);
    out.timed_out = timed_out.load();
    return out;
  }

  Result<std::vector<std::optional<storage::ChunkRecord>>> Chunks(const std::vector<std::uint64_t>& labels) override {
    std::vector<std::optional<storage::ChunkRecord>> out;
    out.reserve(labels.size());
    for (std::uint64_t label : labels) {
      const ServedShards::Shard* shard = Find(ShardOfLabel(label));
      if (shard == nullptr) return Status::Internal("a chunk label names shard " + std::to_string(ShardOfLabel(label)) + ", not searched here");
      Result<std::optional<std::string>> value =
          shard->store->Get(storage::Cf::kChunks, storage::EncodeU64(OwnLabel(label)));
      if (!value) return value.status();
      if (!value->has_value()) {
        out.emplace_back();  // deleted since the index saw it
        continue;
      }
      Result<storage::ChunkRecord> chunk = storage::DecodeChunk(**value);
      if (!chunk) return chunk.status();
      out.emplace_back(std::move(*chunk));
    }
    return out;
  }

  Result<std::optional<ShardDocument>> Document(const std::string& container_id, const std::string& doc_id) override {
    // A container's documents are on one partition: one shard at most holds it.
    for (const ServedShards::Shard& shard : shards_) {
      Result<std::optional<std::string>> value = shard.store->Get(storage::Cf::kDocs, storage::DocKey(container_id, doc_id));
      if (!value) return value.status();
      if (!value->has_value()) continue;
      Result<storage::DocRecord> record = storage::DecodeDoc(**value);
      if (!record) return record.status();
      return std::optional<ShardDocument>(ShardDocument{shard.number, std::move(*record)});
    }
    return std::optional<ShardDocument>();
  }

  Result<std::map<std::string, std::size_t>> ChunksPerContainer() override {
    std::map<std::string, std::size_t> chunks;
    for (const ServedShards::Shard& shard : shards_) {
      for (const auto& [container, n] : shard.indexes->ChunksPerContainer(container_ids_)) chunks[container] += n;
    }
    return chunks;
  }

  ShardsOutcome outcome() const override {
    ShardsOutcome out;
    for (const ServedShards::Shard& s : shards_) {
      out.watermarks[s.number] = ServedShards::WatermarkOf({s});
    }
    return out;
  }

 private:
  const ServedShards::Shard* Find(std::uint32_t number) const {
    for (const ServedShards::Shard& s : shards_) {
      if (s.number == number) return &s;
    }
    return nullptr;
  }

  const std::vector<ServedShards::Shard> shards_;
  const std::vector<std::string> container_ids_;
  std::vector<index::ContainerSet> scopes_;  // by shard, in shards_'s order
  ForkJoinPool* const pool_;
};

}  // namespace

ServedShards::ServedShards(const Follower::Options& options, bool per_partition,
                           std::vector<std::uint32_t> partitions)
    : options_(options), per_partition_(per_partition), partitions_(std::move(partitions)) {
  if (!per_partition_) {
    auto follower = std::make_unique<Follower>(options_);
    followed_.push_back({"", follower.get()});
    owned_.push_back(std::move(follower));
    return;
  }
  Scan();
  scanner_ = std::thread([this] {
    std::mutex m;
    std::condition_variable never;
    std::unique_lock lock(m);
    while (!stop_.load()) {
      // Not synchronisation: a poll of the file system for directories another process makes.
      never.wait_for(lock, kScanInterval, [this] { return stop_.load(); });
      if (!stop_.load()) Scan();
    }
  });
}

ServedShards::ServedShards(const Follower* follower) { followed_.push_back({"", follower}); }

ServedShards::~ServedShards() {
  stop_ = true;
  if (scanner_.joinable()) scanner_.join();
}

void ServedShards::Scan() {
  const std::map<std::int32_t, std::filesystem::path> found = storage::ListPartitionShards(options_.data_dir);
  std::lock_guard lock(mu_);
  for (const auto& [partition, dir] : found) {
    if (!partitions_.empty() && std::find(partitions_.begin(), partitions_.end(),
                                          static_cast<std::uint32_t>(partition)) == partitions_.end()) {
      continue;
    }
    const std::string name = std::to_string(partition);
    if (std::any_of(followed_.begin(), followed_.end(), [&](const Followed& f) { return f.name == name; })) continue;
    Follower::Options one = options_;
    one.data_dir = dir;
    one.secondary_dir = options_.secondary_dir / name;
    auto follower = std::make_unique<Follower>(one);
    spdlog::info("following shard partition={} dir={}", partition, dir.string());
    followed_.push_back({name, follower.get()});
    owned_.push_back(std::move(follower));
    std::sort(followed_.begin(), followed_.end(),
              [](const Followed& a, const Followed& b) { return std::stoi(a.name) < std::stoi(b.name); });
  }
}

std::vector<ServedShards::Followed> ServedShards::Followers() const {
  std::lock_guard lock(mu_);
  return followed_;
}

std::size_t ServedShards::size() const { return Followers().size(); }

Result<std::vector<ServedShards::Shard>> ServedShards::Views() const {
  const std::vector<Followed> followers = Followers();
  if (followers.empty()) {
    return Status::Unavailable("no shard yet under " + (options_.data_dir / "partitions").string() +
                               " (has a worker with shards = per_partition been assigned a partition?)");
  }
  std::vector<Shard> out;
  out.reserve(followers.size());
  for (const Followed& f : followers) {
    Result<Shard> shard = ViewOf(f, f.name.empty() ? 0U : static_cast<std::uint32_t>(std::stoul(f.name)));
    if (!shard) return shard.status();
    out.push_back(std::move(*shard));
  }
  return out;
}

Result<ServedShards::Shard> ServedShards::ViewOf(const Followed& followed, std::uint32_t number) {
  Shard shard{followed.name, number, followed.follower->indexes(), followed.follower->store()};
  if (!shard.indexes || !shard.store) {
    return Status::Unavailable(
        Prefixed(followed.name, "the index is still loading: " + followed.follower->not_ready_reason()));
  }
  return shard;
}

Result<std::unique_ptr<ShardSearch>> ServedShards::Begin(const std::vector<std::string>& container_ids,
                                                         const SearchOptions&) const {
  Result<std::vector<Shard>> views = Views();
  if (!views) return views.status();
  return std::unique_ptr<ShardSearch>(std::make_unique<LocalShardSearch>(std::move(*views), container_ids, list_pool_));
}

Result<std::vector<ServedShards::Shard>> ServedShards::ViewsOf(const std::vector<std::uint32_t>& only) const {
  const std::vector<Followed> followers = Followers();
  std::vector<Shard> views;
  for (std::uint32_t number : only) {
    const std::string name = std::to_string(number);
    auto it = std::find_if(followers.begin(), followers.end(), [&](const Followed& f) {
      return f.name == name || (f.name.empty() && number == 0);
    });
    if (it == followers.end()) return Status::Unavailable("shard " + name + " is not served here");
    Result<Shard> shard = ViewOf(*it, number);
    if (!shard) return shard.status();
    views.push_back(std::move(*shard));
  }
  return views;
}

Result<std::unique_ptr<ShardSearch>> ServedShards::BeginOn(const std::vector<std::string>& container_ids,
                                                           const std::vector<std::uint32_t>& only) const {
  Result<std::vector<Shard>> views = ViewsOf(only);
  if (!views) return views.status();
  return std::unique_ptr<ShardSearch>(std::make_unique<LocalShardSearch>(std::move(*views), container_ids, list_pool_));
}

Result<std::optional<std::vector<std::string>>> ServedShards::PrincipalContainers(const std::string& principal) const {
  Result<std::vector<Shard>> views = Views();
  if (!views) {
    // One store not loaded yet: the file decides, as before. Several: the shard holding the
    // principal's record may be the one still loading, so nothing is decided without it.
    if (size() > 1) return views.status();
    return std::optional<std::vector<std::string>>();
  }
  return AclOf(*views, principal);
}

Result<std::optional<std::vector<std::string>>> ServedShards::PrincipalContainersOn(
    const std::string& principal, const std::vector<std::uint32_t>& only) const {
  Result<std::vector<Shard>> views = ViewsOf(only);
  if (!views) return views.status();
  return AclOf(*views, principal);
}

Result<std::optional<std::vector<std::string>>> ServedShards::AclOf(const std::vector<Shard>& views,
                                                                    const std::string& principal) {
  // A principal's ACL events are on one partition: one shard at most has its record.
  Result<std::optional<Found>> found = GetFromAny(views, storage::Cf::kAcl, principal);
  if (!found) return found.status();
  if (!found->has_value()) return std::optional<std::vector<std::string>>();
  Result<storage::AclRecord> acl = storage::DecodeAcl((*found)->value);
  if (!acl) return acl.status();
  return std::optional<std::vector<std::string>>(acl->deleted ? std::vector<std::string>() : acl->containers);
}

Result<IndexFigures> ServedShards::Figures() const {
  Result<std::vector<Shard>> views = Views();
  if (!views) return views.status();
  return FiguresOf(*views);
}

Result<IndexFigures> ServedShards::FiguresOn(const std::vector<std::uint32_t>& only) const {
  Result<std::vector<Shard>> views = ViewsOf(only);
  if (!views) return views.status();
  return FiguresOf(*views);
}

IndexFigures ServedShards::FiguresOf(const std::vector<Shard>& views) {
  IndexFigures f;
  for (const Shard& shard : views) {
    std::vector<std::string> ids = shard.indexes->ContainerIds();
    f.container_ids.insert(f.container_ids.end(), ids.begin(), ids.end());
    f.chunks += shard.indexes->size();
    f.vector_tombstones += shard.indexes->vector_tombstones();
    f.sealed_vector_segments += shard.indexes->sealed_vector_segments();
    f.sealed_keyword_segments += shard.indexes->sealed_keyword_segments();
  }
  std::sort(f.container_ids.begin(), f.container_ids.end());
  f.container_ids.erase(std::unique(f.container_ids.begin(), f.container_ids.end()), f.container_ids.end());
  f.shards = views.size();
  return f;
}

Result<std::optional<std::uint32_t>> ServedShards::PartitionCount() const {
  for (const Followed& f : Followers()) {
    if (f.name.empty()) return std::optional<std::uint32_t>();
    std::shared_ptr<const storage::Store> store = f.follower->store();
    if (!store) continue;
    Result<std::optional<std::string>> stored = store->Get(storage::Cf::kMeta, storage::kMetaPartitionCount);
    if (!stored) return stored.status();
    if (!stored->has_value()) continue;
    Result<std::uint64_t> count = storage::DecodeU64(**stored);
    if (!count) return count.status().WithContext("partition " + f.name + " meta partition_count");
    return std::optional<std::uint32_t>(static_cast<std::uint32_t>(*count));
  }
  return std::optional<std::uint32_t>();
}

std::map<std::uint32_t, bool> ServedShards::ShardMap() const {
  std::map<std::uint32_t, bool> out;
  for (const Followed& f : Followers()) {
    out[f.name.empty() ? 0U : static_cast<std::uint32_t>(std::stoul(f.name))] = f.follower->ready();
  }
  return out;
}

Watermark ServedShards::WatermarkOf(const std::vector<Shard>& shards) {
  Watermark w;
  for (const Shard& s : shards) {
    w.seq += s.indexes->applied_seq();
    for (const auto& [key, offset] : s.indexes->applied_offsets()) w.offsets[key] = offset;
  }
  return w;
}

Result<std::optional<ServedShards::Found>> ServedShards::GetFromAny(const std::vector<Shard>& shards,
                                                                   storage::Cf cf, std::string_view key) {
  for (const Shard& shard : shards) {
    Result<std::optional<std::string>> value = shard.store->Get(cf, key);
    if (!value) return value.status();
    if (value->has_value()) return std::optional<Found>(Found{std::move(**value), shard.store.get()});
  }
  return std::optional<Found>();
}

bool ServedShards::ready() const {
  const std::vector<Followed> followers = Followers();
  return !followers.empty() &&
         std::all_of(followers.begin(), followers.end(), [](const Followed& f) { return f.follower->ready(); });
}

std::string ServedShards::not_ready_reason() const {
  const std::vector<Followed> followers = Followers();
  if (followers.empty()) return "no shard yet under " + (options_.data_dir / "partitions").string();
  for (const Followed& f : followers) {
    if (std::string reason = f.follower->not_ready_reason(); !reason.empty()) return Prefixed(f.name, reason);
  }
  return "";
}

Status ServedShards::corruption() const {
  for (const Followed& f : Followers()) {
    if (Status s = f.follower->corruption(); !s.ok()) return s.WithContext(Prefixed(f.name, "shard"));
  }
  return Status();
}

Status ServedShards::fatal() const {
  for (const Followed& f : Followers()) {
    if (Status s = f.follower->fatal(); !s.ok()) return f.name.empty() ? s : s.WithContext("partition " + f.name);
  }
  return Status();
}

Follower::Lag ServedShards::lag() const {
  Follower::Lag sum;
  for (const Followed& f : Followers()) {
    const Follower::Lag one = f.follower->lag();
    sum.changes += one.changes;
    sum.behind_for = std::max(sum.behind_for, one.behind_for);
  }
  return sum;
}

Watermark ServedShards::watermark() const {
  Watermark w;
  for (const Followed& f : Followers()) {
    const Watermark one = f.follower->watermark();
    w.seq += one.seq;
    for (const auto& [key, offset] : one.offsets) w.offsets[key] = offset;
  }
  return w;
}

std::uint64_t ServedShards::store_seq() const {
  std::uint64_t sum = 0;
  for (const Followed& f : Followers()) sum += f.follower->store_seq();
  return sum;
}

std::uint64_t ServedShards::snapshot_jumps() const {
  std::uint64_t sum = 0;
  for (const Followed& f : Followers()) sum += f.follower->snapshot_jumps();
  return sum;
}

std::uint64_t ServedShards::corrupt_snapshots() const {
  std::uint64_t sum = 0;
  for (const Followed& f : Followers()) sum += f.follower->corrupt_snapshots();
  return sum;
}

}  // namespace tide::query
