#include "common/index/keyword_index.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/coding.h"
#include "common/index/vector_index.h"

namespace tide::index {
namespace {

constexpr std::uint64_t kFormat = 1;

}  // namespace

std::string KeywordIndex::TermKey(Field field, std::string_view term) {
  std::string key;
  key.reserve(term.size() + 1);
  key.push_back(static_cast<char>('0' + static_cast<int>(field)));
  key.append(term);
  return key;
}

void KeywordIndex::Add(std::uint64_t label, std::uint32_t container, const FieldTerms& terms) {
  ChunkInfo info{container, 0, {}};
  for (int f = 0; f < kNumFields; ++f) {
    std::map<std::string_view, std::uint32_t> tf;
    for (const std::string& t : terms[f]) ++tf[t];
    info.length[f] = static_cast<std::uint32_t>(terms[f].size());
    for (const auto& [term, count] : tf) {
      postings_[TermKey(static_cast<Field>(f), term)].push_back({label, count});
      ++info.postings;
    }
  }
  if (container >= containers_.size()) containers_.resize(container + 1);
  ContainerStats& stats = containers_[container];
  ++stats.chunks;
  for (int f = 0; f < kNumFields; ++f) stats.total_length[f] += info.length[f];
  live_postings_ += info.postings;
  chunks_.emplace(label, info);
}

bool KeywordIndex::Remove(std::uint64_t label) {
  auto it = chunks_.find(label);
  if (it == chunks_.end()) return false;
  const ChunkInfo& info = it->second;
  ContainerStats& stats = containers_[info.container];
  --stats.chunks;
  for (int f = 0; f < kNumFields; ++f) stats.total_length[f] -= info.length[f];
  live_postings_ -= info.postings;
  dead_postings_ += info.postings;
  chunks_.erase(it);
  if (dead_postings_ > 1024 && dead_postings_ > live_postings_) Compact();
  return true;
}

void KeywordIndex::Compact() {
  for (auto it = postings_.begin(); it != postings_.end();) {
    std::vector<Posting>& list = it->second;
    std::erase_if(list, [this](const Posting& p) { return !chunks_.contains(p.label); });
    if (list.empty()) {
      it = postings_.erase(it);
    } else {
      list.shrink_to_fit();
      ++it;
    }
  }
  dead_postings_ = 0;
}

std::vector<KeywordHit> KeywordIndex::Search(Field field, const std::vector<std::string>& query_terms,
                                             std::size_t k, const ContainerSet& scope,
                                             const Bm25& params, const LabelFilter* filter) const {
  std::vector<KeywordHit> hits;
  if (k == 0 || scope.empty()) return hits;
  const int f = static_cast<int>(field);
  double n = 0;
  double total_length = 0;
  for (std::uint32_t c : scope.ordinals()) {
    if (c >= containers_.size()) continue;
    n += static_cast<double>(containers_[c].chunks);
    total_length += static_cast<double>(containers_[c].total_length[f]);
  }
  if (n == 0) return hits;
  const double avg_length = std::max(total_length / n, 1.0);

  // Query term frequency: a term repeated in the query counts more, as in Lucene.
  std::map<std::string_view, int> qtf;
  for (const std::string& t : query_terms) ++qtf[t];

  struct Acc {
    float score = 0;
    std::vector<std::string_view> terms;
  };
  std::unordered_map<std::uint64_t, Acc> acc;
  std::vector<std::pair<const Posting*, const ChunkInfo*>> matches;
  for (const auto& [term, count] : qtf) {
    auto it = postings_.find(TermKey(field, term));
    if (it == postings_.end()) continue;
    matches.clear();
    for (const Posting& p : it->second) {
      auto chunk = chunks_.find(p.label);
      if (chunk == chunks_.end() || !scope.Contains(chunk->second.container)) continue;
      matches.emplace_back(&p, &chunk->second);
    }
    if (matches.empty()) continue;
    const double df = static_cast<double>(matches.size());
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    for (const auto& [p, info] : matches) {
      if (filter != nullptr && !filter->Allowed(p->label)) continue;
      const double tf = p->tf;
      const double norm = params.k1 * (1.0 - params.b + params.b * info->length[f] / avg_length);
      Acc& a = acc[p->label];
      a.score += static_cast<float>(count * idf * tf * (params.k1 + 1.0) / (tf + norm));
      a.terms.push_back(term);
    }
  }
  hits.reserve(acc.size());
  for (auto& [label, a] : acc) {
    hits.push_back({label, a.score, {}});
  }
  auto better = [](const KeywordHit& a, const KeywordHit& b) {
    return a.score != b.score ? a.score > b.score : a.label < b.label;
  };
  if (hits.size() > k) {
    std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(k), hits.end(), better);
    hits.resize(k);
  } else {
    std::sort(hits.begin(), hits.end(), better);
  }
  for (KeywordHit& h : hits) {
    for (std::string_view t : acc[h.label].terms) h.matched_terms.emplace_back(t);
  }
  return hits;
}

void KeywordIndex::AppendTo(std::string* out) const {
  PutVarint(out, kFormat);
  PutVarint(out, chunks_.size());
  for (const auto& [label, info] : chunks_) {
    PutVarint(out, label);
    PutVarint(out, info.container);
    PutVarint(out, info.postings);
    for (std::uint32_t len : info.length) PutVarint(out, len);
  }
  // Only live postings are written: a loaded index starts compacted.
  std::size_t terms = 0;
  std::string body;
  for (const auto& [key, list] : postings_) {
    std::size_t live = 0;
    for (const Posting& p : list) live += chunks_.contains(p.label) ? 1 : 0;
    if (live == 0) continue;
    ++terms;
    PutBytes(&body, key);
    PutVarint(&body, live);
    for (const Posting& p : list) {
      if (!chunks_.contains(p.label)) continue;
      PutVarint(&body, p.label);
      PutVarint(&body, p.tf);
    }
  }
  PutVarint(out, terms);
  out->append(body);
}

Status KeywordIndex::ParseFrom(std::string_view in) {
  Reader r(in);
  auto bad = [](const char* what) { return Status::Corruption(std::string("keyword index: ") + what); };
  std::uint64_t format = 0, nchunks = 0;
  if (!r.GetVarint(&format) || format != kFormat) return bad("unknown format");
  if (!r.GetVarint(&nchunks)) return bad("truncated chunk table");
  postings_.clear();
  chunks_.clear();
  containers_.clear();
  live_postings_ = dead_postings_ = 0;
  for (std::uint64_t i = 0; i < nchunks; ++i) {
    std::uint64_t label = 0, container = 0, postings = 0;
    ChunkInfo info{};
    if (!r.GetVarint(&label) || !r.GetVarint(&container) || !r.GetVarint(&postings)) {
      return bad("truncated chunk");
    }
    info.container = static_cast<std::uint32_t>(container);
    info.postings = static_cast<std::uint32_t>(postings);
    for (std::uint32_t& len : info.length) {
      std::uint64_t v = 0;
      if (!r.GetVarint(&v)) return bad("truncated chunk lengths");
      len = static_cast<std::uint32_t>(v);
    }
    if (info.container >= containers_.size()) containers_.resize(info.container + 1);
    ContainerStats& stats = containers_[info.container];
    ++stats.chunks;
    for (int f = 0; f < kNumFields; ++f) stats.total_length[f] += info.length[f];
    live_postings_ += info.postings;
    chunks_.emplace(label, info);
  }
  std::uint64_t nterms = 0;
  if (!r.GetVarint(&nterms)) return bad("truncated term count");
  for (std::uint64_t i = 0; i < nterms; ++i) {
    std::string_view key;
    std::uint64_t count = 0;
    if (!r.GetBytes(&key) || !r.GetVarint(&count)) return bad("truncated term");
    std::vector<Posting>& list = postings_[std::string(key)];
    list.reserve(count);
    for (std::uint64_t j = 0; j < count; ++j) {
      std::uint64_t label = 0, tf = 0;
      if (!r.GetVarint(&label) || !r.GetVarint(&tf)) return bad("truncated postings");
      list.push_back({label, static_cast<std::uint32_t>(tf)});
    }
  }
  if (!r.empty()) return bad("trailing bytes");
  return Status();
}

}  // namespace tide::index
