#include "common/index/chunk_table.h"

#include <algorithm>

namespace tide::index {

bool ChunkTable::CompiledFilter::Matches(const Entry& e) const {
  if (!any_doc_type && (e.doc_type >= doc_types.size() || !doc_types[e.doc_type])) return false;
  if (!any_tag) {
    bool found = false;
    for (std::uint32_t t : e.tags) found = found || (t < tags.size() && tags[t]);
    if (!found) return false;
  }
  if (created && (e.created_at == storage::kNoDate || e.created_at < created_min || e.created_at > created_max)) {
    return false;
  }
  if (updated && (e.updated_at == storage::kNoDate || e.updated_at < updated_min || e.updated_at > updated_max)) {
    return false;
  }
  return true;
}

std::uint32_t ChunkTable::NameTable::Intern(std::string_view name) {
  auto [it, inserted] = ids.emplace(std::string(name), static_cast<std::uint32_t>(names.size()));
  if (inserted) names.emplace_back(name);
  return it->second;
}

std::uint32_t ChunkTable::InternContainer(std::string_view container_id) {
  auto [it, inserted] =
      container_ordinals_.emplace(std::string(container_id), static_cast<std::uint32_t>(container_names_.size()));
  if (inserted) {
    container_names_.emplace_back(container_id);
    container_labels_.emplace_back();
  }
  return it->second;
}

std::uint32_t ChunkTable::Add(std::uint64_t label, const storage::ChunkRecord& chunk) {
  const std::uint32_t container = InternContainer(chunk.container_id);
  std::vector<std::uint64_t>& labels = container_labels_[container];
  Entry entry{container, static_cast<std::uint32_t>(labels.size())};
  if (!chunk.doc_type.empty()) entry.doc_type = doc_types_.Intern(chunk.doc_type);
  for (const std::string& tag : chunk.tags) entry.tags.push_back(tags_.Intern(tag));
  entry.created_at = chunk.created_at;
  entry.updated_at = chunk.updated_at;
  chunks_.emplace(label, std::move(entry));
  labels.push_back(label);
  return container;
}

bool ChunkTable::Remove(std::uint64_t label) {
  auto it = chunks_.find(label);
  if (it == chunks_.end()) return false;
  const Entry entry = it->second;
  chunks_.erase(it);
  std::vector<std::uint64_t>& labels = container_labels_[entry.container];
  // Swap-remove, then fix the moved label's position (unless it was the removed one).
  const std::uint64_t moved = labels.back();
  labels[entry.position] = moved;
  labels.pop_back();
  if (moved != label) chunks_.at(moved).position = entry.position;
  return true;
}

ChunkTable::CompiledFilter ChunkTable::Compile(const MetadataFilter& filter) const {
  CompiledFilter c;
  if (!filter.doc_types.empty()) {
    c.any_doc_type = false;
    c.doc_types.assign(doc_types_.names.size(), false);
    for (const std::string& v : filter.doc_types) {
      if (auto it = doc_types_.ids.find(v); it != doc_types_.ids.end()) c.doc_types[it->second] = true;
    }
  }
  if (!filter.tags.empty()) {
    c.any_tag = false;
    c.tags.assign(tags_.names.size(), false);
    for (const std::string& v : filter.tags) {
      if (auto it = tags_.ids.find(v); it != tags_.ids.end()) c.tags[it->second] = true;
    }
  }
  c.created = filter.created_min || filter.created_max;
  c.created_min = filter.created_min.value_or(INT64_MIN);
  c.created_max = filter.created_max.value_or(INT64_MAX);
  c.updated = filter.updated_min || filter.updated_max;
  c.updated_min = filter.updated_min.value_or(INT64_MIN);
  c.updated_max = filter.updated_max.value_or(INT64_MAX);
  return c;
}

bool ChunkTable::Allowed(std::uint64_t label, const ContainerSet& scope, const CompiledFilter* filter) const {
  auto it = chunks_.find(label);
  return it != chunks_.end() && scope.Contains(it->second.container) &&
         (filter == nullptr || filter->Matches(it->second));
}

std::vector<std::uint64_t> ChunkTable::LabelsIn(const ContainerSet& scope, const CompiledFilter* filter) const {
  std::vector<std::uint64_t> out;
  for (std::uint32_t c : scope.ordinals()) {
    if (c >= container_labels_.size()) continue;
    if (filter == nullptr) {
      out.insert(out.end(), container_labels_[c].begin(), container_labels_[c].end());
      continue;
    }
    for (std::uint64_t label : container_labels_[c]) {
      if (filter->Matches(chunks_.at(label))) out.push_back(label);
    }
  }
  return out;
}

ContainerSet ChunkTable::Resolve(const std::vector<std::string>& container_ids) const {
  ContainerSet set;
  for (const std::string& id : container_ids) {
    if (auto it = container_ordinals_.find(id); it != container_ordinals_.end()) set.Add(it->second);
  }
  return set;
}

std::size_t ChunkTable::Count(const ContainerSet& scope) const {
  std::size_t n = 0;
  for (std::uint32_t c : scope.ordinals()) {
    if (c < container_labels_.size()) n += container_labels_[c].size();
  }
  return n;
}

std::map<std::string, std::size_t> ChunkTable::PerContainer(const std::vector<std::string>& container_ids) const {
  std::map<std::string, std::size_t> out;
  for (const std::string& id : container_ids) {
    auto it = container_ordinals_.find(id);
    if (it == container_ordinals_.end() || it->second >= container_labels_.size()) continue;
    if (const std::size_t n = container_labels_[it->second].size(); n > 0) out[id] = n;
  }
  return out;
}

std::vector<std::pair<std::uint64_t, std::string>> ChunkTable::Labels() const {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  out.reserve(chunks_.size());
  for (const auto& [label, entry] : chunks_) out.emplace_back(label, container_names_[entry.container]);
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

std::uint64_t ZigZag(std::int64_t v) { return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63); }
std::int64_t UnZigZag(std::uint64_t v) { return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1); }

}  // namespace

void ChunkTable::EncodeTo(std::string* out) const {
  PutVarint(out, container_names_.size());
  for (std::size_t c = 0; c < container_names_.size(); ++c) {
    PutBytes(out, container_names_[c]);
    PutVarint(out, container_labels_[c].size());
    for (std::uint64_t label : container_labels_[c]) PutVarint(out, label);
  }
  // Filter attributes: the interned names, then per chunk in the order of the labels above:
  // doc type id, tag ids, and a flag varint saying which dates follow (zigzag varints).
  auto put_names = [&](const NameTable& table, std::size_t first) {
    PutVarint(out, table.names.size() - first);
    for (std::size_t i = first; i < table.names.size(); ++i) PutBytes(out, table.names[i]);
  };
  put_names(doc_types_, 1);  // not the implicit "none"
  put_names(tags_, 0);
  for (const std::vector<std::uint64_t>& labels : container_labels_) {
    for (std::uint64_t label : labels) {
      const Entry& e = chunks_.at(label);
      PutVarint(out, e.doc_type);
      PutVarint(out, e.tags.size());
      for (std::uint32_t t : e.tags) PutVarint(out, t);
      const bool created = e.created_at != storage::kNoDate, updated = e.updated_at != storage::kNoDate;
      PutVarint(out, (created ? 1u : 0u) | (updated ? 2u : 0u));
      if (created) PutVarint(out, ZigZag(e.created_at));
      if (updated) PutVarint(out, ZigZag(e.updated_at));
    }
  }
}

Status ChunkTable::DecodeFrom(Reader* r) {
  auto bad = [](const char* what) { return Status::Corruption(std::string("index tables: ") + what); };
  std::uint64_t ncontainers = 0;
  if (!r->GetVarint(&ncontainers)) return bad("truncated containers");
  for (std::uint64_t c = 0; c < ncontainers; ++c) {
    std::string_view name;
    std::uint64_t n = 0;
    if (!r->GetBytes(&name) || !r->GetVarint(&n)) return bad("truncated container");
    const std::uint32_t ordinal = InternContainer(name);
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t label = 0;
      if (!r->GetVarint(&label)) return bad("truncated labels");
      if (!chunks_.emplace(label, Entry{ordinal, static_cast<std::uint32_t>(container_labels_[ordinal].size())})
               .second) {
        return bad("a label listed twice");
      }
      container_labels_[ordinal].push_back(label);
    }
  }
  // Ids are positions in the file's lists, so a name may appear once.
  auto get_names = [&](NameTable* table, const char* truncated) -> Status {
    std::uint64_t n = 0;
    if (!r->GetVarint(&n)) return bad(truncated);
    for (std::uint64_t i = 0; i < n; ++i) {
      std::string_view name;
      if (!r->GetBytes(&name)) return bad(truncated);
      const std::size_t before = table->names.size();
      table->Intern(name);
      if (table->names.size() == before) return bad("duplicate filter value");
    }
    return Status();
  };
  TIDE_RETURN_IF_ERROR(get_names(&doc_types_, "truncated doc types"));
  TIDE_RETURN_IF_ERROR(get_names(&tags_, "truncated tags"));
  for (const std::vector<std::uint64_t>& labels : container_labels_) {
    for (std::uint64_t label : labels) {
      Entry& e = chunks_.at(label);
      std::uint64_t doc_type = 0, n = 0, v = 0;
      if (!r->GetVarint(&doc_type) || doc_type >= doc_types_.names.size() || !r->GetVarint(&n)) {
        return bad("truncated attributes");
      }
      e.doc_type = static_cast<std::uint32_t>(doc_type);
      for (std::uint64_t i = 0; i < n; ++i) {
        if (!r->GetVarint(&v) || v >= tags_.names.size()) return bad("bad tag id");
        e.tags.push_back(static_cast<std::uint32_t>(v));
      }
      std::uint64_t bits = 0;
      if (!r->GetVarint(&bits)) return bad("truncated attributes");
      if ((bits & 1) != 0) {
        if (!r->GetVarint(&v)) return bad("truncated date");
        e.created_at = UnZigZag(v);
      }
      if ((bits & 2) != 0) {
        if (!r->GetVarint(&v)) return bad("truncated date");
        e.updated_at = UnZigZag(v);
      }
    }
  }
  return Status();
}

}  // namespace tide::index
