#include "query/context_builder.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/storage/store.h"
#include "common/utf8.h"

namespace tide::query {
namespace {

// The longest prefix of `s` with at most `max` code points, cut at a space when one is near.
std::string CutTo(std::string_view s, std::size_t max) {
  std::size_t cp = 0, end = 0, last_space = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (utf8::IsContinuation(s[i])) continue;
    if (cp == max) {
      end = i;
      break;
    }
    if (s[i] == ' ' || s[i] == '\n') last_space = i;
    ++cp;
    end = s.size();
  }
  if (end < s.size() && last_space > end * 4 / 5) end = last_space;
  return std::string(s.substr(0, end)) + "…";
}

}  // namespace

Result<ContextResponse> BuildContext(const Searcher& searcher, const ShardSource& shards,
                                     const ContextRequest& request) {
  SearchRequest search = request.search;
  search.search_type = SearchType::kRag;
  search.group_by = GroupBy::kDocument;
  Result<SearchResponse> found = searcher.Search(search);
  if (!found) return found.status();
  // The passages are read whatever time is left, as one daemon reads them from its stores:
  // the deadline bounded the search.
  Result<std::unique_ptr<ShardSearch>> reading =
      shards.Begin(search.container_ids, {std::chrono::steady_clock::time_point::max(), search.allow_partial_results});
  if (!reading) return reading.status();

  ContextResponse out;
  for (const SearchHit& doc : found->hits) {
    // The ordinals to include: the document's selected chunks and their neighbours.
    std::set<std::uint32_t> ordinals;
    auto add = [&](const SearchHit& h) {
      const std::uint32_t lo = h.ordinal >= request.neighbors
                                   ? h.ordinal - static_cast<std::uint32_t>(request.neighbors)
                                   : 0;
      for (std::uint32_t o = lo; o <= h.ordinal + request.neighbors; ++o) ordinals.insert(o);
    };
    add(doc);
    for (const SearchHit& h : doc.more_chunks) add(h);

    // The shard holding the document (its container's partition's).
    Result<std::optional<ShardDocument>> found_doc = (*reading)->Document(doc.container_id, doc.doc_id);
    if (!found_doc) return found_doc.status();
    if (!found_doc->has_value()) continue;  // deleted since the search
    const storage::DocRecord& record = (*found_doc)->record;

    // Consecutive ordinals form one passage, so overlapping neighbours are not repeated.
    std::vector<std::uint32_t> present;
    std::vector<std::uint64_t> labels;
    for (std::uint32_t o : ordinals) {
      const std::optional<std::size_t> at = record.FindOrdinal(o);
      if (!at) continue;
      Result<std::uint64_t> label = ShardLabel((*found_doc)->shard, record.labels[*at]);
      if (!label) return label.status();
      present.push_back(o);
      labels.push_back(*label);
    }
    Result<std::vector<std::optional<storage::ChunkRecord>>> chunks = (*reading)->Chunks(labels);
    if (!chunks) return chunks.status();
    std::vector<std::vector<storage::ChunkRecord>> passages;
    std::optional<std::uint32_t> previous;
    for (std::size_t i = 0; i < present.size(); ++i) {
      if (!(*chunks)[i]) continue;
      const std::uint32_t o = present[i];
      if (!previous || o != *previous + 1) passages.emplace_back();
      passages.back().push_back(std::move(*(*chunks)[i]));
      previous = o;
    }
    for (const std::vector<storage::ChunkRecord>& passage : passages) {
      if (out.chars >= request.max_chars) {
        out.truncated = true;
        break;
      }
      std::string text;
      std::uint32_t end = passage.front().char_begin;
      for (const storage::ChunkRecord& c : passage) {
        // Chunks overlap by the chunker's overlap: append only what the previous one lacked.
        if (!text.empty() && c.char_begin < end) {
          text += c.text.substr(utf8::Forward(c.text, 0, end - c.char_begin));
        } else {
          if (!text.empty()) text += "\n";
          text += c.text;
        }
        end = std::max(end, c.char_end);
      }
      Citation cite{out.citations.size() + 1,
                    doc.doc_id,
                    doc.doc_id + "#" + std::to_string(passage.front().ordinal),
                    doc.container_id,
                    doc.title,
                    passage.front().heading,
                    passage.front().char_begin,
                    end,
                    passage.front().page,
                    doc.score};
      std::string header = "[" + std::to_string(cite.number) + "] " + doc.title;
      if (!cite.heading.empty()) header += " — " + cite.heading;
      std::string block = header + "\n" + text + "\n\n";
      const std::size_t room = request.max_chars - out.chars;
      if (utf8::CodePoints(block) > room) {
        if (room < utf8::CodePoints(header) + 40) {  // not enough left for a useful passage
          out.truncated = true;
          break;
        }
        block = CutTo(block, room - 1);  // the "…" takes the last code point
        out.truncated = true;
      }
      out.chars += utf8::CodePoints(block);
      out.context += block;
      out.citations.push_back(std::move(cite));
    }
    if (out.truncated) break;
  }
  out.search = std::move(*found);
  return out;
}

}  // namespace tide::query
