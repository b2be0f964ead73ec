#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/coding.h"
#include "common/index/container_set.h"
#include "common/index/vector_index.h"
#include "common/status.h"
#include "common/storage/schema.h"

namespace tide::index {

// Conditions on document metadata a search adds to its container scope (DESIGN §5's
// filters). An empty field does not constrain; all given fields must hold.
struct MetadataFilter {
  std::vector<std::string> doc_types;  // metadata.doc_type is one of these
  std::vector<std::string> tags;       // metadata.tags holds at least one of these
  // Inclusive bounds in ms since the epoch; a chunk without the date fails any bound on it.
  std::optional<std::int64_t> created_min, created_max;
  std::optional<std::int64_t> updated_min, updated_max;

  bool empty() const {
    return doc_types.empty() && tags.empty() && !created_min && !created_max && !updated_min && !updated_max;
  }
};

// The chunks an index holds, as scope and filter checks see them: each live label's container
// and filter attributes (doc type, tags, dates), the labels of each container, and the
// container ids and filter values interned to dense ids. The vector and keyword indexes hold
// the labels too; this table decides which of them a request may see.
//
// Not thread-safe: IndexSet guards it with its own lock.
class ChunkTable {
 public:
  // A MetadataFilter with its values turned into this table's ids.
  class CompiledFilter;

  // Adds `label` (the chunk's container and filter attributes); returns the container's
  // ordinal. REQUIRES: !contains(label).
  std::uint32_t Add(std::uint64_t label, const storage::ChunkRecord& chunk);
  // Removes `label`; false if it is not here.
  bool Remove(std::uint64_t label);
  bool contains(std::uint64_t label) const { return chunks_.contains(label); }
  std::size_t size() const { return chunks_.size(); }

  CompiledFilter Compile(const MetadataFilter& filter) const;
  // Whether `label` is live, in `scope`, and passes `filter` (null: no filter).
  bool Allowed(std::uint64_t label, const ContainerSet& scope, const CompiledFilter* filter) const;
  // The labels of `scope` that pass `filter` (null: all of them), container by container.
  std::vector<std::uint64_t> LabelsIn(const ContainerSet& scope, const CompiledFilter* filter) const;

  // Ordinals of the named containers that exist; unknown names are skipped.
  ContainerSet Resolve(const std::vector<std::string>& container_ids) const;
  std::size_t Count(const ContainerSet& scope) const;
  // Live chunks of each named container that has any.
  std::map<std::string, std::size_t> PerContainer(const std::vector<std::string>& container_ids) const;
  const std::vector<std::string>& container_ids() const { return container_names_; }
  // Every live label with its container id, sorted by label.
  std::vector<std::pair<std::uint64_t, std::string>> Labels() const;

  // The table in the snapshot format (docs/storage-format.md, `tables.bin`: the container
  // tables, then the filter values and each chunk's attributes), and back. DecodeFrom
  // REQUIRES an empty table; Corruption if the bytes are not such a table.
  void EncodeTo(std::string* out) const;
  Status DecodeFrom(Reader* in);

 private:
  struct Entry {
    std::uint32_t container;
    std::uint32_t position;  // index into container_labels_[container]
    std::uint32_t doc_type = 0;  // interned; 0: none
    std::vector<std::uint32_t> tags{};
    std::int64_t created_at = storage::kNoDate;
    std::int64_t updated_at = storage::kNoDate;
  };
  // Filter values interned to dense ids.
  struct NameTable {
    std::vector<std::string> names;                      // id -> name
    std::unordered_map<std::string, std::uint32_t> ids;  // name -> id
    std::uint32_t Intern(std::string_view name);
  };
  std::uint32_t InternContainer(std::string_view container_id);

  std::unordered_map<std::uint64_t, Entry> chunks_;
  std::vector<std::string> container_names_;                          // ordinal -> id
  std::unordered_map<std::string, std::uint32_t> container_ordinals_;
  std::vector<std::vector<std::uint64_t>> container_labels_;
  NameTable doc_types_{{""}, {}};  // id 0 is "none" (never looked up by name)
  NameTable tags_;
};

class ChunkTable::CompiledFilter {
 public:
  bool Matches(const Entry& e) const;

 private:
  friend class ChunkTable;
  bool any_doc_type = true;
  std::vector<bool> doc_types;  // by id
  bool any_tag = true;
  std::vector<bool> tags;  // by id
  std::int64_t created_min = INT64_MIN, created_max = INT64_MAX;
  std::int64_t updated_min = INT64_MIN, updated_max = INT64_MAX;
  bool created = false, updated = false;  // a bound is set
};

// A request's scope and filter as the vector and keyword indexes ask about labels. The table
// must not change while it is in use (IndexSet holds its lock shared).
class ScopeFilter : public LabelFilter {
 public:
  ScopeFilter(const ChunkTable& table, const ContainerSet& scope, const ChunkTable::CompiledFilter* filter)
      : table_(table), scope_(scope), filter_(filter) {}
  bool Allowed(std::uint64_t label) const override { return table_.Allowed(label, scope_, filter_); }

 private:
  const ChunkTable& table_;
  const ContainerSet& scope_;
  const ChunkTable::CompiledFilter* filter_;
};

}  // namespace tide::index
