// SegmentedVectorIndex's part of a snapshot: saving its graphs (PrepareSave, PendingSave::Write,
// FinishSave, Save), publishing where they now are, and loading them back. The in-memory index
// and its change records are in vector_segments.cc; the files are described in
// docs/storage-format.md.

#include "common/index/vector_segments.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <future>
#include <new>

#include "common/coding.h"
#include "common/file_util.h"

namespace tide::index {
namespace {

constexpr std::uint64_t kTombstonesFormat = 1;
constexpr std::uint64_t kLabelsFormat = 1;

// "seg-<id, 10 digits>.<extension>": a sealed graph's files.
std::string SegmentFile(std::uint64_t id, const char* extension) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "seg-%010" PRIu64 ".%s", id, extension);
  return buf;
}
std::string SegmentFileName(std::uint64_t id) { return SegmentFile(id, "hnsw"); }
std::string LabelsFileName(std::uint64_t id) { return SegmentFile(id, "labels"); }

// Ascending labels: their number, then each minus the previous (the first minus 0).
void PutSortedLabels(std::string* out, const std::vector<std::uint64_t>& labels) {
  PutVarint(out, labels.size());
  std::uint64_t previous = 0;
  for (std::uint64_t label : labels) {
    PutVarint(out, label - previous);
    previous = label;
  }
}

bool GetSortedLabels(Reader* r, std::uint64_t max, std::vector<std::uint64_t>* labels) {
  std::uint64_t n = 0;
  if (!r->GetVarint(&n) || n > max) return false;
  labels->resize(n);
  std::uint64_t label = 0;
  for (std::uint64_t& out : *labels) {
    std::uint64_t delta = 0;
    if (!r->GetVarint(&delta)) return false;
    out = label += delta;
  }
  return true;
}

}  // namespace

Result<SegmentedVectorIndex::PendingSave> SegmentedVectorIndex::PrepareSave(const std::filesystem::path& dir,
                                                                             std::string graph_buffer) {
  PendingSave save;
  save.dir = dir;
  save.growing = std::move(graph_buffer);
  try {
    growing_.graph->ImageTo(&save.growing);
  } catch (const std::bad_alloc&) {
    return Status::Unavailable("no memory to copy the growing vector graph out for a snapshot");
  }
  for (Segment& segment : sealed_) {
    PendingSave::Sealed& sealed = save.sealed.emplace_back();
    sealed.id = segment.id;
    sealed.graph = segment.graph;
    sealed.file = segment.file;
    if (!segment.graph) sealed.labels = segment.labels;
    sealed.tombstones = segment.DeletedLabels();
    sealed.slots = segment.slots();
    sealed.live = segment.live();
    segment.saving = segment.graph != nullptr;
  }
  save.manifest = {{"next_id", next_id_}, {"max_chunks", options_.segment_max_chunks}, {"growing", growing_.graph->size()}};
  return save;
}

Result<nlohmann::json> SegmentedVectorIndex::PendingSave::Write() {
  TIDE_RETURN_IF_ERROR(WriteFileAtomic(dir / "vectors.hnsw", growing));
  growing = std::string();  // as large as the growing graph: freed once written
  nlohmann::json listed = nlohmann::json::array();
  std::string tombstones_file;
  PutVarint(&tombstones_file, kTombstonesFormat);
  PutVarint(&tombstones_file, sealed.size());
  for (const Sealed& segment : sealed) {
    const std::string name = SegmentFileName(segment.id);
    const bool linked = !segment.file.empty() && LinkFile(segment.file, dir / name);
    if (!linked && !segment.graph) {
      return Status::Unavailable("sealed vector graph " + std::to_string(segment.id) + " is not in memory and " +
                                 segment.file.string() + " cannot be linked");
    }
    // Written with the tombstones it has now, which may be more than `tombstones`: a load
    // sets those of tombstones.bin exactly.
    if (!linked) TIDE_RETURN_IF_ERROR(segment.graph->Save(dir / name));
    // Its labels, for a process that keeps only those (set_unload_published).
    const std::string labels_name = LabelsFileName(segment.id);
    if (!linked || !LinkFile(segment.file.parent_path() / labels_name, dir / labels_name)) {
      std::string labels;
      PutVarint(&labels, kLabelsFormat);
      PutSortedLabels(&labels, segment.graph ? segment.graph->AllLabels() : segment.labels);
      TIDE_RETURN_IF_ERROR(WriteFileAtomic(dir / labels_name, labels));
    }
    PutVarint(&tombstones_file, segment.id);
    PutSortedLabels(&tombstones_file, segment.tombstones);
    listed.push_back({{"id", segment.id},
                      {"file", name},
                      {"slots", segment.slots},
                      {"live", segment.live},
                      {"written", !linked}});
  }
  TIDE_RETURN_IF_ERROR(WriteFileAtomic(dir / "tombstones.bin", tombstones_file));
  nlohmann::json out = manifest;
  out["sealed"] = std::move(listed);
  return out;
}

Status SegmentedVectorIndex::FinishSave(const PendingSave& save, const std::filesystem::path& published_dir) {
  Status status;
  {
    // Exclusive: size() and deleted() count each held delete once, before or after.
    std::unique_lock lock(mu_);
    for (Segment& segment : sealed_) {
      segment.saving = false;
      for (std::uint64_t label : segment.deferred) {
        if (Status s = segment.graph->Remove(label); !s.ok() && status.ok()) status = s;
      }
      segment.deferred.clear();
    }
  }
  if (!status.ok()) return status.WithContext("applying the deletes held aside while a snapshot was written");
  if (published_dir.empty()) return status;
  std::vector<std::uint64_t> ids;
  for (const PendingSave::Sealed& sealed : save.sealed) ids.push_back(sealed.id);
  Publish(published_dir, ids);
  return status;
}

Result<nlohmann::json> SegmentedVectorIndex::Save(const std::filesystem::path& dir) {
  Result<PendingSave> save = PrepareSave(dir);
  if (!save) return save.status();
  Result<nlohmann::json> written = save->Write();
  TIDE_RETURN_IF_ERROR(FinishSave(*save, {}));
  return written;
}

void SegmentedVectorIndex::Publish(const std::filesystem::path& dir, const std::vector<std::uint64_t>& ids) {
  for (Segment& segment : sealed_) {
    // A graph sealed after the save, or rebuilt since (a new id), is not in `dir`.
    if (std::find(ids.begin(), ids.end(), segment.id) == ids.end()) continue;
    segment.file = dir / SegmentFileName(segment.id);
    if (!unload_published_ || !segment.graph) continue;
    std::vector<std::uint64_t> labels = segment.graph->AllLabels(), tombstones = segment.graph->DeletedLabels();
    std::unique_lock lock(mu_);
    segment.labels = std::move(labels);
    segment.tombstones = std::move(tombstones);
    segment.graph.reset();
  }
}

Result<std::unique_ptr<SegmentedVectorIndex>> SegmentedVectorIndex::Load(const std::filesystem::path& dir,
                                                                         const nlohmann::json& segments,
                                                                         const VectorIndex::Options& options,
                                                                         bool load_sealed_graphs) {
  SnapshotFiles unchecked(dir, {});
  return Load(&unchecked, segments, options, load_sealed_graphs);
}

namespace {

// Loads the graph in `name` of a loading snapshot, read once beside its checksum.
Result<std::unique_ptr<VectorIndex>> LoadGraph(SnapshotFiles* files, const std::string& name,
                                               const VectorIndex::Options& options) {
  Result<std::unique_ptr<SnapshotFileReader>> in = files->Open(name);
  if (!in) {
    if (in.status().code() == Status::Code::kNotFound) {
      return Status::NotFound("no vector index at " + (files->dir() / name).string());
    }
    return in.status();
  }
  Result<std::unique_ptr<VectorIndex>> graph = VectorIndex::Load(in->get(), options);
  // A checksum that differs explains whatever else failed, so it is reported first: a graph
  // that did not load is read to its end for it.
  if (!graph.ok() && (!files->Lists(name) || !(*in)->Skip((*in)->remaining()).ok())) return graph.status();
  TIDE_RETURN_IF_ERROR(files->Finish(**in));
  return graph;
}

}  // namespace

Result<std::unique_ptr<SegmentedVectorIndex>> SegmentedVectorIndex::Load(SnapshotFiles* files,
                                                                         const nlohmann::json& segments,
                                                                         const VectorIndex::Options& options,
                                                                         bool load_sealed_graphs) {
  const std::filesystem::path& dir = files->dir();
  std::unique_ptr<SegmentedVectorIndex> index(new SegmentedVectorIndex(options));
  auto bad = [&](const std::string& what) {
    return Status::Corruption("vector segments of snapshot " + dir.string() + ": " + what);
  };
  struct Listed {
    std::uint64_t id = 0;
    std::uint64_t slots = 0;
  };
  std::vector<Listed> listed;
  if (!segments.is_null()) {
    if (!segments.is_object() || !segments.contains("next_id") || !segments["next_id"].is_number_unsigned() ||
        !segments.contains("sealed") || !segments["sealed"].is_array()) {
      return bad("the manifest's \"segments\" is malformed");
    }
    index->next_id_ = segments["next_id"].get<std::uint64_t>();
    for (const nlohmann::json& entry : segments["sealed"]) {
      if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_unsigned() ||
          !entry.contains("slots") || !entry["slots"].is_number_unsigned()) {
        return bad("a malformed entry");
      }
      const std::uint64_t id = entry["id"].get<std::uint64_t>();
      if (id == 0 || id >= index->next_id_) return bad("segment id " + std::to_string(id) + " out of range");
      listed.push_back({id, entry["slots"].get<std::uint64_t>()});
    }
  }
  // Each graph is read on a thread of its own (reading and copying them is most of a daemon's
  // start); the file names are derived from the ids, never taken from the manifest.
  using Loading = std::future<Result<std::unique_ptr<VectorIndex>>>;
  auto load = [files, &options](std::string name) {
    return std::async(std::launch::async, [files, &options, name = std::move(name)]() {
      return LoadGraph(files, name, options);
    });
  };
  Loading growing_loading = load("vectors.hnsw");
  std::vector<Loading> sealed_loading;
  // A process that keeps only labels still checks the sealed graphs against their checksums
  // (a damaged one found at its start is repaired then: decision 0011), beside the loads.
  std::vector<std::future<Status>> sealed_checking;
  for (const Listed& one : listed) {
    if (load_sealed_graphs) {
      sealed_loading.push_back(load(SegmentFileName(one.id)));
    } else {
      sealed_checking.push_back(std::async(std::launch::async, [files, name = SegmentFileName(one.id)]() {
        return files->Check(name);
      }));
    }
  }
  Status failed;
  auto take = [&](Loading& loading) -> std::unique_ptr<VectorIndex> {
    Result<std::unique_ptr<VectorIndex>> graph = loading.get();
    if (graph) return std::move(*graph);
    if (failed.ok()) {
      failed = graph.status().code() == Status::Code::kNotFound ? bad(graph.status().message()) : graph.status();
    }
    return nullptr;
  };
  index->growing_.graph = take(growing_loading);
  for (std::size_t i = 0; i < listed.size(); ++i) {
    const Listed& one = listed[i];
    Segment segment;
    segment.id = one.id;
    segment.file = dir / SegmentFileName(one.id);
    if (load_sealed_graphs) {
      segment.graph = take(sealed_loading[i]);
      if (!segment.graph) continue;
    } else if (failed.ok()) {
      Result<std::string> labels = files->ReadFile(LabelsFileName(one.id));
      if (!labels) return bad(labels.status().message());
      Reader r(*labels);
      std::uint64_t format = 0;
      if (!r.GetVarint(&format) || format != kLabelsFormat || !GetSortedLabels(&r, one.slots, &segment.labels) ||
          !r.empty()) {
        return bad(LabelsFileName(one.id) + " is malformed");
      }
    }
    if (failed.ok() && segment.slots() != one.slots) {
      failed = bad(segment.file.string() + " holds " + std::to_string(segment.slots()) + " vectors, the manifest says " +
                   std::to_string(one.slots));
    }
    segment.NoteLabelRange();
    index->sealed_.push_back(std::move(segment));
  }
  for (std::future<Status>& checking : sealed_checking) {
    Status checked = checking.get();
    if (failed.ok() && !checked.ok()) failed = checked.WithContext("vector segments of snapshot " + dir.string());
  }
  if (!failed.ok()) return failed;  // every thread joined above
  if (segments.is_null()) return index;

  Result<std::string> tombstones = files->ReadFile("tombstones.bin");
  if (!tombstones) return bad("tombstones.bin: " + tombstones.status().message());
  Reader r(*tombstones);
  std::uint64_t format = 0, count = 0;
  if (!r.GetVarint(&format) || format != kTombstonesFormat) return bad("tombstones.bin has an unknown format");
  if (!r.GetVarint(&count) || count != index->sealed_.size()) return bad("tombstones.bin lists other segments");
  for (Segment& segment : index->sealed_) {
    std::uint64_t id = 0;
    std::vector<std::uint64_t> labels;
    if (!r.GetVarint(&id) || id != segment.id || !GetSortedLabels(&r, segment.slots(), &labels)) {
      return bad("tombstones.bin does not match segment " + std::to_string(segment.id));
    }
    if (segment.graph) {
      if (Status s = segment.graph->SetDeleted(labels); !s.ok()) return bad(s.message());
    } else {
      for (std::uint64_t label : labels) {
        if (!std::binary_search(segment.labels.begin(), segment.labels.end(), label)) {
          return bad("tombstone for label " + std::to_string(label) + ", which segment " + std::to_string(segment.id) +
                     " does not hold");
        }
      }
      segment.tombstones = std::move(labels);
    }
  }
  if (!r.remaining().empty()) return bad("tombstones.bin has trailing bytes");
  return index;
}

}  // namespace tide::index
