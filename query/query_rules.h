#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/reloading.h"
#include "common/status.h"
#include "query/calibration.h"
#include "query/intent.h"

namespace tide::query {

enum class SearchType { kGeneral, kRag };
const char* SearchTypeName(SearchType type);

// How retriever lists combine. kRrf: weighted Reciprocal Rank Fusion (ranks only). kLinear:
// each list's scores min-max normalised to 0..1, then weighted and summed (scores matter).
enum class Fusion { kRrf, kLinear };
const char* FusionName(Fusion fusion);

// The fusion profile an embedder gets, from its model_id: "hash" for the built-in lexical
// hash embedder ("hash-v1-d384"), "semantic" for everything else (a real embedding model).
// docs/decisions/0008 says why they fuse differently.
std::string EmbedderProfile(std::string_view model_id);

// Fusion settings for one intent and search type.
struct FusionSettings {
  Fusion fusion = Fusion::kRrf;
  Weights weights;
  float threshold = 0;         // minimum vector similarity for a vector candidate to count
  std::size_t max_chunks = 0;  // rag: chunks in a context, at most (0: no limit)
  float min_relevance = 0;     // hits whose calibrated relevance is lower are dropped (0: none)
};

// Everything a query's analysis and fusion depend on that operators tune without a restart:
// configs/search_rules.json, configs/stopwords.txt, configs/synonyms.txt, configs/spelling.txt. Immutable once
// loaded; a reload builds a new one.
struct QueryRules {
  struct IntentRule {
    Intent intent;
    float confidence;
    std::vector<std::string> contains;   // any of these substrings of the normalised query
    std::vector<std::string> ends_with;  // or the normalised query ends with one of these
    std::size_t max_words = 0;           // or it has at most this many words (0: unused)
  };
  std::vector<IntentRule> intent_rules;  // in order; the first match wins
  IntentGuess default_intent;
  using FusionTable = std::map<std::pair<SearchType, Intent>, FusionSettings>;
  FusionTable fusion;       // the default tables (DESIGN.md's, made for a semantic model)
  FusionSettings fallback;  // for a (search type, intent) the tables do not name
  // Per embedder profile (EmbedderProfile()): tables that replace the default ones for that
  // profile. A (search type, intent) a profile does not name falls back to the default tables.
  std::map<std::string, FusionTable> profiles;
  std::set<std::string> stopwords;                            // normalised, particle-stripped
  std::map<std::string, std::vector<std::string>> synonyms;  // word -> what it also searches
  // Spelling corrections (configs/spelling.txt), normalised, longest `wrong` first. A Hangul
  // wrong form is replaced at the start of a query word (어떻해 in 어떻해요, 화일 in 화일을, not
  // in 악화일로), or anywhere inside one when the file marks it with '*' (됬 in 설정됬다); any
  // other is replaced only as a whole word (teh, not tehran).
  struct SpellingFix {
    enum class Where { kWholeWord, kWordStart, kAnywhere };
    std::string wrong;
    std::string right;
    Where where;
  };
  std::vector<SpellingFix> spelling;
  // A synonym's terms weigh this much against the query's own terms (which weigh 1) in the
  // keyword and full-text queries: an expansion widens the search, it does not outvote what
  // the user wrote. "synonym_weight" in search_rules.json, in (0, 1].
  float synonym_weight = 0.5f;
  // A typo match's terms (query/typo_matching.h) weigh this much; "typo_weight" in
  // search_rules.json, in [0, 1]; 0 turns typo matching off.
  float typo_weight = 0.5f;
  // Calibrated relevance (query/calibration.h), by "<embedder profile>/<search mode>"
  // ("hash/hybrid", "semantic/keyword"): "calibration" in search_rules.json.
  std::map<std::string, Calibration, std::less<>> calibration;

  IntentGuess Classify(std::string_view normalized_query, std::size_t word_count) const;
  // The profile's table first (type, then general), then the default tables, then fallback.
  FusionSettings Settings(SearchType type, Intent intent, std::string_view profile = "semantic") const;
  // The fit for an embedder profile and search mode ("hybrid", "vector", "keyword"), or nullptr.
  const Calibration* CalibrationFor(std::string_view profile, std::string_view mode) const;
};

struct QueryRulesFiles {
  std::filesystem::path rules;      // JSON; empty: built-in defaults (DESIGN.md's tables)
  std::filesystem::path stopwords;  // empty: none
  std::filesystem::path synonyms;   // empty: none
  std::filesystem::path spelling;   // empty: none
};

// Loads and validates the files; InvalidArgument names the file, line and problem.
Result<std::shared_ptr<const QueryRules>> LoadQueryRules(const QueryRulesFiles& files);

// Holds the current rules and reloads them when a file changes (modification time or size),
// checked on its own thread every `interval`. A file that fails to load is logged and the
// previous rules stay in force; `observe` (may be empty) hears each reload's outcome.
// Thread-safe.
class QueryRulesWatcher {
 public:
  // Fails if the files do not load at startup (a bad config is a startup error).
  static Result<std::unique_ptr<QueryRulesWatcher>> Start(const QueryRulesFiles& files,
                                                          std::chrono::milliseconds interval,
                                                          std::function<void(const Status&)> observe = {});

  std::shared_ptr<const QueryRules> current() const { return rules_->current(); }
  std::uint64_t reloads() const { return rules_->reloads(); }

 private:
  explicit QueryRulesWatcher(std::unique_ptr<Reloading<QueryRules>> rules) : rules_(std::move(rules)) {}

  std::unique_ptr<Reloading<QueryRules>> rules_;
};

}  // namespace tide::query
