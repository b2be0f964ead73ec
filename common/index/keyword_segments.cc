#include "common/index/keyword_segments.h"

#include <algorithm>
#include <cassert>
#include <cinttypes>
#include <cstdio>
#include <future>
#include <limits>

#include "common/coding.h"
#include "common/file_util.h"

namespace tide::index {
namespace {

// "kw-<id, 10 digits>.bin": a sealed keyword segment's file (KeywordIndex::AppendTo).
std::string KeywordFileName(std::uint64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "kw-%010" PRIu64 ".bin", id);
  return buf;
}

// A varint's longest, and a label table entry's (label, container, postings, two lengths).
constexpr std::size_t kMaxVarint = 10;
constexpr std::size_t kMaxChunkEntry = kMaxVarint + 4 * 5;

}  // namespace

KeywordSegments::KeywordSegments(const Options& options)
    : options_(options), growing_(std::make_unique<KeywordIndex>()) {}

KeywordSegments::~KeywordSegments() = default;

void KeywordSegments::Add(std::uint64_t label, std::uint32_t container, const KeywordIndex::FieldTerms& terms) {
  if ((options_.segment_max_chunks > 0 && growing_->slots() >= options_.segment_max_chunks) ||
      growing_->slots() >= KeywordIndex::kMaxSlots) {
    Seal();
  }
  growing_->Add(label, container, terms);
}

void KeywordSegments::Seal() {
  if (growing_->size() == 0) {  // nothing live to keep: start afresh
    growing_ = std::make_unique<KeywordIndex>();
    return;
  }
  Segment& segment = sealed_.emplace_back();
  segment.id = next_id_++;
  segment.index = std::move(growing_);
  if (options_.keep_sealed) {
    segment.index->ShrinkToFit();  // it takes no more adds
  } else {  // it never changes from here: deletes are counted beside it
    segment.labels = segment.index->Labels();
    segment.deleted.assign(segment.labels.size(), false);
    segment.live = segment.labels.size();
  }
  growing_ = std::make_unique<KeywordIndex>();
}

bool KeywordSegments::Remove(std::uint64_t label) {
  if (growing_->Remove(label)) return true;
  for (auto it = sealed_.begin(); it != sealed_.end(); ++it) {
    Segment& segment = *it;
    if (options_.keep_sealed) {
      if (!segment.index->Remove(label)) continue;
    } else {
      auto found = std::lower_bound(segment.labels.begin(), segment.labels.end(), label);
      if (found == segment.labels.end() || *found != label) continue;
      const auto at = static_cast<std::size_t>(found - segment.labels.begin());
      if (segment.deleted[at]) continue;  // (labels are never reused: in no other segment either)
      segment.deleted[at] = true;
      --segment.live;
    }
    // A segment left with nothing live goes (a snapshot writing it holds its own reference).
    if ((options_.keep_sealed ? segment.index->size() : segment.live) == 0) sealed_.erase(it);
    return true;
  }
  return false;
}

std::vector<const KeywordIndex*> KeywordSegments::InMemory() const {
  assert(options_.keep_sealed && "the worker's keyword segments are not for searching");
  std::vector<const KeywordIndex*> out;
  for (const Segment& segment : sealed_) {
    if (segment.index) out.push_back(segment.index.get());
  }
  out.push_back(growing_.get());
  return out;
}

std::vector<KeywordHit> KeywordSegments::Search(Field field, const std::vector<std::string>& query_terms,
                                                std::size_t k, const ContainerSet& scope,
                                                const KeywordIndex::Bm25& params, const LabelFilter* filter,
                                                const std::vector<float>* term_weights,
                                                const KeywordStatistics* global) const {
  return KeywordIndex::SearchSegments(InMemory(), field, query_terms, k, scope, params, filter, term_weights, global);
}

void KeywordSegments::AddStatistics(Field field, const std::vector<std::string>& query_terms,
                                    const ContainerSet& scope, KeywordStatistics* into) const {
  KeywordIndex::AddStatistics(InMemory(), field, query_terms, scope, into);
}

std::size_t KeywordSegments::DocFrequency(Field field, std::string_view term, const ContainerSet& scope) const {
  std::size_t df = 0;
  for (const KeywordIndex* segment : InMemory()) df += segment->DocFrequency(field, term, scope);
  return df;
}

bool KeywordSegments::InScope(Field field, std::string_view term, const ContainerSet& scope) const {
  for (const KeywordIndex* segment : InMemory()) {
    if (segment->InScope(field, term, scope)) return true;
  }
  return false;
}

std::size_t KeywordSegments::size() const {
  std::size_t n = growing_->size();
  for (const Segment& segment : sealed_) n += options_.keep_sealed ? segment.index->size() : segment.live;
  return n;
}

std::size_t KeywordSegments::sealed_segments_in_memory() const {
  return static_cast<std::size_t>(
      std::count_if(sealed_.begin(), sealed_.end(), [](const Segment& s) { return s.index != nullptr; }));
}

KeywordSegments::PendingSave KeywordSegments::PrepareSave(const std::filesystem::path& dir,
                                                          std::string* tables) const {
  growing_->AppendTo(tables);
  PendingSave save;
  save.dir = dir;
  save.next_id = next_id_;
  for (const Segment& segment : sealed_) {
    PendingSave::Sealed& sealed = save.sealed.emplace_back();
    sealed.id = segment.id;
    sealed.file = segment.file;
    if (!segment.file.empty()) continue;  // linked
    if (options_.keep_sealed) {
      segment.index->AppendTo(&sealed.encoded);  // it changes with deletes: encoded now
    } else {
      sealed.index = segment.index;  // never changes: encoded by Write
    }
  }
  return save;
}

Result<nlohmann::json> KeywordSegments::PendingSave::Write() const {
  nlohmann::json listed = nlohmann::json::array();
  for (const Sealed& segment : sealed) {
    const std::string name = KeywordFileName(segment.id);
    bool linked = !segment.file.empty() && LinkFile(segment.file, dir / name);
    std::uintmax_t bytes = 0;
    if (linked) {
      std::error_code ec;
      bytes = std::filesystem::file_size(dir / name, ec);
      if (ec) return Status::Unavailable("reading the size of " + (dir / name).string() + ": " + ec.message());
    } else if (!segment.encoded.empty() || segment.index) {
      std::string encoded;
      if (segment.index) segment.index->AppendTo(&encoded);
      const std::string& contents = segment.index ? encoded : segment.encoded;
      TIDE_RETURN_IF_ERROR(WriteFileAtomic(dir / name, contents));
      bytes = contents.size();
    } else {
      return Status::Unavailable("sealed keyword segment " + std::to_string(segment.id) +
                                 " is not in memory and " + segment.file.string() + " cannot be linked");
    }
    listed.push_back({{"id", segment.id}, {"file", name}, {"bytes", bytes}, {"written", !linked}});
  }
  return nlohmann::json{{"next_id", next_id}, {"sealed", std::move(listed)}};
}

void KeywordSegments::FinishSave(const PendingSave& save, const std::filesystem::path& published_dir) {
  if (published_dir.empty()) {
    // The snapshot failed, perhaps linking a published file that is gone: a process holding
    // its sealed segments encodes them again next time rather than fail the same way.
    if (options_.keep_sealed) {
      for (Segment& segment : sealed_) segment.file.clear();
    }
    return;
  }
  for (Segment& segment : sealed_) {
    const bool saved = std::any_of(save.sealed.begin(), save.sealed.end(),
                                   [&](const PendingSave::Sealed& s) { return s.id == segment.id; });
    if (!saved) continue;  // sealed after the save
    segment.file = published_dir / KeywordFileName(segment.id);
    if (!options_.keep_sealed) segment.index.reset();  // its labels stay
  }
}

namespace {

// Without keep_sealed only the label table at the front of a sealed segment's file is used:
// its header, then at most kMaxChunkEntry bytes for each chunk it says it lists. The rest is
// read only for the file's checksum (not at all for an unchecked snapshot), so the file is
// read once and the checksum covers the bytes the labels came from.
Result<std::string> ReadLabelTable(SnapshotFiles* files, const std::string& name) {
  Result<std::unique_ptr<SnapshotFileReader>> in = files->Open(name);
  if (!in) return in.status();
  SnapshotFileReader& r = **in;
  std::string table(static_cast<std::size_t>(std::min<std::uint64_t>(r.size(), 2 * kMaxVarint)), '\0');
  TIDE_RETURN_IF_ERROR(r.Read(table.data(), table.size()));
  Reader head(table);
  std::uint64_t format = 0, chunks = 0;
  std::uint64_t prefix = r.size();
  if (head.GetVarint(&format) && head.GetVarint(&chunks) && chunks < r.size()) {
    prefix = std::min<std::uint64_t>(r.size(), 2 * kMaxVarint + chunks * kMaxChunkEntry);
  }
  const std::size_t got = table.size();
  table.resize(static_cast<std::size_t>(std::max<std::uint64_t>(prefix, got)));
  TIDE_RETURN_IF_ERROR(r.Read(table.data() + got, table.size() - got));
  if (files->Lists(name)) {
    TIDE_RETURN_IF_ERROR(r.Skip(r.remaining()));
    TIDE_RETURN_IF_ERROR(files->Finish(r));
  }
  return table;
}

}  // namespace

Status KeywordSegments::Load(const std::filesystem::path& dir, const nlohmann::json& manifest,
                             std::string_view growing) {
  SnapshotFiles unchecked(dir, {});
  return Load(&unchecked, manifest, [growing]() -> Result<std::string_view> { return growing; });
}

Status KeywordSegments::Load(SnapshotFiles* files, const nlohmann::json& manifest,
                             const std::function<Result<std::string_view>()>& growing) {
  const std::filesystem::path& dir = files->dir();
  auto parse_growing = [&]() -> Status {
    Result<std::string_view> bytes = growing();
    return bytes ? growing_->ParseFrom(*bytes) : bytes.status();
  };
  if (manifest.is_null()) return parse_growing();
  auto bad = [&](const std::string& what) {
    return Status::Corruption("keyword segments of snapshot " + dir.string() + ": " + what);
  };
  if (!manifest.is_object() || !manifest.contains("next_id") || !manifest["next_id"].is_number_unsigned() ||
      !manifest.contains("sealed") || !manifest["sealed"].is_array()) {
    return bad("the manifest's \"keyword_segments\" is malformed");
  }
  next_id_ = manifest["next_id"].get<std::uint64_t>();
  // Each file is read and decoded on a thread of its own (decoding is most of a start).
  struct Loading {
    Segment segment;
    std::uint64_t bytes = 0;
    std::future<Status> done;
  };
  std::vector<Loading> loading(manifest["sealed"].size());
  for (std::size_t i = 0; i < loading.size(); ++i) {
    const nlohmann::json& entry = manifest["sealed"][i];
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_unsigned() ||
        !entry.contains("bytes") || !entry["bytes"].is_number_unsigned()) {
      return bad("a malformed entry");
    }
    Loading& one = loading[i];
    one.segment.id = entry["id"].get<std::uint64_t>();
    one.bytes = entry["bytes"].get<std::uint64_t>();
    if (one.segment.id == 0 || one.segment.id >= next_id_ || (i > 0 && one.segment.id <= loading[i - 1].segment.id)) {
      return bad("segment id " + std::to_string(one.segment.id) + " out of order or range");
    }
    // The file name is derived from the id, never taken from the manifest.
    one.segment.file = dir / KeywordFileName(one.segment.id);
  }
  for (Loading& one : loading) {
    one.done = std::async(std::launch::async, [&one, files, keep = options_.keep_sealed]() -> Status {
      std::error_code ec;
      const std::uintmax_t size = std::filesystem::file_size(one.segment.file, ec);
      if (ec) return Status::Corruption("missing " + one.segment.file.string() + ": " + ec.message());
      if (size != one.bytes) {
        return Status::Corruption(one.segment.file.string() + " holds " + std::to_string(size) +
                                  " bytes, the manifest says " + std::to_string(one.bytes));
      }
      // A whole file is read through `files`, which takes its checksum on the way.
      const std::string name = one.segment.file.filename().string();
      Result<std::string> contents = keep ? files->ReadFile(name) : ReadLabelTable(files, name);
      if (!contents) {
        return contents.status().code() == Status::Code::kNotFound
                   ? Status::Corruption("missing " + one.segment.file.string())
                   : contents.status();
      }
      if (keep) {
        one.segment.index = std::make_shared<KeywordIndex>();
        return one.segment.index->ParseFrom(*contents).WithContext(one.segment.file.string());
      }
      Result<std::vector<std::uint64_t>> labels = KeywordIndex::ParseLabels(*contents);
      if (!labels) return labels.status().WithContext(one.segment.file.string());
      one.segment.labels = std::move(*labels);
      one.segment.deleted.assign(one.segment.labels.size(), false);
      one.segment.live = one.segment.labels.size();
      return Status();
    });
  }
  // The growing segment (and whatever reading it takes) here, beside the sealed ones. Its
  // error comes first: a sealed segment's would only say less.
  Status status = parse_growing();
  for (Loading& one : loading) {
    Status s = one.done.get();
    if (!s.ok() && status.ok()) status = s.code() == Status::Code::kCorruption ? bad(s.message()) : s;
  }
  if (!status.ok()) return status;
  for (Loading& one : loading) sealed_.push_back(std::move(one.segment));
  return Status();
}

std::size_t KeywordSegments::RemoveUnlisted(const std::function<bool(std::uint64_t)>& listed) {
  std::size_t removed = 0;
  std::erase_if(sealed_, [&](Segment& segment) {
    if (!options_.keep_sealed) {
      for (std::size_t i = 0; i < segment.labels.size(); ++i) {
        if (segment.deleted[i] || listed(segment.labels[i])) continue;
        segment.deleted[i] = true;
        --segment.live;
        ++removed;
      }
      return segment.live == 0;
    }
    for (std::uint64_t label : segment.index->Labels()) {
      if (!listed(label) && segment.index->Remove(label)) ++removed;
    }
    return segment.index->size() == 0;
  });
  return removed;
}

}  // namespace tide::index
