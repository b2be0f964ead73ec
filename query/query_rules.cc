#include "query/query_rules.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "common/analysis/analyzer.h"
#include "common/analysis/normalizer.h"
#include "common/file_util.h"

namespace tide::query {
namespace {

using nlohmann::json;

std::optional<Intent> IntentFromName(std::string_view name) {
  for (Intent i : {Intent::kKeywordSearch, Intent::kDocumentSearch, Intent::kQaQuestion, Intent::kComparison,
                   Intent::kSummarization}) {
    if (name == IntentName(i)) return i;
  }
  return std::nullopt;
}

// The key a word is looked up by: normalised, and particle-stripped when Hangul, the same
// way the pipeline treats query words.
std::string WordKey(const analysis::Analyzer& analyzer, std::string_view raw) {
  std::string normalized = analysis::Normalize(raw);
  std::vector<analysis::Word> words = analyzer.Tokens(normalized);
  if (words.size() != 1) return normalized;  // multi-word phrase: matched as a whole
  const analysis::Word& w = words[0];
  return std::string(w.script == analysis::Script::kHangul ? analyzer.StripParticle(w.text)
                                                           : std::string_view(w.text));
}

// Without a rules file every intent and search type fuses with one balanced setting; the full
// tables live in configs/search_rules.json, the one place they are written down.
void Defaults(QueryRules* r) {
  r->default_intent = {Intent::kDocumentSearch, 0.55f};
  r->fallback = {Fusion::kRrf, {0.5f, 0.3f, 0.2f}, 0.15f, 10};
}

Status ParseRules(const std::filesystem::path& path, QueryRules* r) {
  Result<std::string> text = ReadFile(path);
  if (!text) return Status::InvalidArgument("search rules: " + text.status().message());
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& what) { return Status::InvalidArgument(path.string() + ": " + what); };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  try {
    if (j.contains("intents")) {
      for (const json& rule : j.at("intents")) {
        std::optional<Intent> intent = IntentFromName(rule.at("name").get<std::string>());
        if (!intent) return bad("unknown intent '" + rule.at("name").get<std::string>() + "'");
        QueryRules::IntentRule ir{*intent, rule.value("confidence", 0.5f), {}, {}, rule.value("max_words", 0u)};
        for (const json& s : rule.value("contains", json::array())) {
          // Normalize() trims, but the spaces are what make " vs " match a whole word.
          const std::string raw = s.get<std::string>();
          const bool spaced = !raw.empty() && (raw.front() == ' ' || raw.back() == ' ');
          ir.contains.push_back(spaced ? raw : analysis::Normalize(raw));
        }
        for (const json& s : rule.value("ends_with", json::array())) {
          ir.ends_with.push_back(analysis::Normalize(s.get<std::string>()));
        }
        r->intent_rules.push_back(std::move(ir));
      }
    }
    if (j.contains("synonym_weight")) {
      r->synonym_weight = j["synonym_weight"].get<float>();
      if (!(r->synonym_weight > 0 && r->synonym_weight <= 1)) return bad("synonym_weight must be in (0, 1]");
    }
    if (j.contains("typo_weight")) {
      r->typo_weight = j["typo_weight"].get<float>();
      if (!(r->typo_weight >= 0 && r->typo_weight <= 1)) return bad("typo_weight must be in [0, 1]");
    }
    if (j.contains("default_intent")) {
      std::optional<Intent> intent = IntentFromName(j["default_intent"].at("name").get<std::string>());
      if (!intent) return bad("unknown default intent");
      r->default_intent = {*intent, j["default_intent"].value("confidence", 0.5f)};
    }
    // "search_types": {"general": {intent: settings}, "rag": {...}}, with "fusion" (rrf or
    // linear) as the default method of the table; a setting may name its own.
    auto parse_tables = [&](const json& owner, const std::string& where, QueryRules::FusionTable* out) -> Status {
      Fusion method = Fusion::kRrf;
      if (owner.contains("fusion")) {
        const std::string name = owner["fusion"].get<std::string>();
        if (name != "rrf" && name != "linear") return bad(where + "fusion must be rrf or linear");
        method = name == "linear" ? Fusion::kLinear : Fusion::kRrf;
      }
      if (!owner.contains("search_types")) return Status();
      for (const auto& [type_name, table] : owner["search_types"].items()) {
        SearchType type;
        if (type_name == "general") {
          type = SearchType::kGeneral;
        } else if (type_name == "rag") {
          type = SearchType::kRag;
        } else {
          return bad("unknown search type '" + where + type_name + "' (general, rag)");
        }
        for (const auto& [intent_name, s] : table.items()) {
          std::optional<Intent> intent = IntentFromName(intent_name);
          if (!intent) return bad("unknown intent '" + intent_name + "' in " + where + "search_types." + type_name);
          FusionSettings f{method,
                           {s.at("vector").get<float>(), s.at("keyword").get<float>(), s.at("fulltext").get<float>()},
                           s.value("threshold", 0.0f), s.value("max_chunks", 0u), s.value("min_relevance", 0.0f)};
          if (!(f.min_relevance >= 0 && f.min_relevance <= 1)) {
            return bad(where + type_name + "." + intent_name + ": min_relevance must be in [0, 1]");
          }
          if (s.contains("fusion")) {
            const std::string name = s["fusion"].get<std::string>();
            if (name != "rrf" && name != "linear") return bad(where + type_name + "." + intent_name + ": fusion must be rrf or linear");
            f.fusion = name == "linear" ? Fusion::kLinear : Fusion::kRrf;
          }
          if (f.weights.vector < 0 || f.weights.keyword < 0 || f.weights.fulltext < 0 ||
              f.weights.vector + f.weights.keyword + f.weights.fulltext <= 0) {
            return bad("weights of " + where + type_name + "." + intent_name + " must be >= 0 and not all 0");
          }
          (*out)[{type, *intent}] = f;
        }
      }
      return Status();
    };
    TIDE_RETURN_IF_ERROR(parse_tables(j, "", &r->fusion));
    if (j.contains("embedder_profiles")) {
      for (const auto& [profile, owner] : j["embedder_profiles"].items()) {
        if (profile != "hash" && profile != "semantic") return bad("unknown embedder profile '" + profile + "' (hash, semantic)");
        TIDE_RETURN_IF_ERROR(parse_tables(owner, "embedder_profiles." + profile + ".", &r->profiles[profile]));
      }
    }
    // "calibration": {profile: {mode: {"intercept": ..., "score": ..., "coverage": ...,
    // "cosine": ..., "reciprocal_rank": ..., "fitted_on": "..."}}}
    if (j.contains("calibration")) {
      for (const auto& [profile, modes] : j["calibration"].items()) {
        if (profile.starts_with("_")) continue;
        if (profile != "hash" && profile != "semantic") return bad("unknown embedder profile '" + profile + "' in calibration (hash, semantic)");
        for (const auto& [mode, c] : modes.items()) {
          if (mode.starts_with("_")) continue;
          if (mode != "hybrid" && mode != "vector" && mode != "keyword") {
            return bad("unknown search mode '" + mode + "' in calibration." + profile + " (hybrid, vector, keyword)");
          }
          Calibration cal{c.at("intercept").get<double>(), c.value("score", 0.0),          c.value("coverage", 0.0),
                          c.value("cosine", 0.0),          c.value("reciprocal_rank", 0.0), c.at("fitted_on").get<std::string>()};
          for (double v : {cal.intercept, cal.score, cal.coverage, cal.cosine, cal.reciprocal_rank}) {
            if (!std::isfinite(v) || std::abs(v) > 100) return bad("calibration." + profile + "." + mode + ": coefficients must be finite, at most 100 in size");
          }
          if (cal.fitted_on.empty()) return bad("calibration." + profile + "." + mode + ": fitted_on must say what the fit was made on");
          r->calibration[profile + "/" + mode] = std::move(cal);
        }
      }
    }
  } catch (const json::exception& e) {
    return bad(e.what());
  }
  return Status();
}

Status ParseStopwords(const std::filesystem::path& path, const analysis::Analyzer& analyzer, QueryRules* r) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot open stopwords file " + path.string());
  for (std::string line; std::getline(in, line);) {
    if (std::size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::string key = WordKey(analyzer, line);
    if (!key.empty()) r->stopwords.insert(std::move(key));
  }
  return Status();
}

Status ParseSynonyms(const std::filesystem::path& path, const analysis::Analyzer& analyzer, QueryRules* r) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot open synonyms file " + path.string());
  auto split = [&](std::string_view list) {
    std::vector<std::string> out;
    std::stringstream ss{std::string(list)};
    for (std::string item; std::getline(ss, item, ',');) {
      std::string key = WordKey(analyzer, item);
      if (!key.empty()) out.push_back(std::move(key));
    }
    return out;
  };
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (std::size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (std::size_t arrow = line.find("=>"); arrow != std::string::npos) {
      std::vector<std::string> from = split(std::string_view(line).substr(0, arrow));
      std::vector<std::string> to = split(std::string_view(line).substr(arrow + 2));
      if (from.empty() || to.empty()) {
        return Status::InvalidArgument(path.string() + ":" + std::to_string(line_no) + ": empty side of '=>'");
      }
      for (const std::string& f : from) r->synonyms[f].insert(r->synonyms[f].end(), to.begin(), to.end());
      continue;
    }
    std::vector<std::string> group = split(line);
    if (group.size() < 2) {
      return Status::InvalidArgument(path.string() + ":" + std::to_string(line_no) + ": a synonym group needs two words");
    }
    for (const std::string& a : group) {
      for (const std::string& b : group) {
        if (a != b) r->synonyms[a].push_back(b);
      }
    }
  }
  return Status();
}

// Lines "wrong, *wrong2 => right". Each wrong form is one word ('*': anywhere inside a word,
// Hangul only); the right form may be several.
Status ParseSpelling(const std::filesystem::path& path, const analysis::Analyzer& analyzer, QueryRules* r) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot open spelling file " + path.string());
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    auto bad = [&](const std::string& what) {
      return Status::InvalidArgument(path.string() + ":" + std::to_string(line_no) + ": " + what);
    };
    if (std::size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::size_t arrow = line.find("=>");
    if (arrow == std::string::npos) return bad("expected 'wrong, ... => right'");
    const std::string right = analysis::Normalize(std::string_view(line).substr(arrow + 2));
    if (right.empty()) return bad("empty right side of '=>'");
    std::stringstream wrongs(line.substr(0, arrow));
    std::size_t added = 0;
    for (std::string item; std::getline(wrongs, item, ',');) {
      std::string wrong = analysis::Normalize(item);
      if (wrong.empty()) continue;
      const bool anywhere = wrong.front() == '*';
      if (anywhere) wrong = analysis::Normalize(wrong.substr(1));
      const std::vector<analysis::Word> words = analyzer.Tokens(wrong);
      if (words.size() != 1 || words[0].text != wrong) return bad("'" + wrong + "' is not one word");
      if (wrong == right) return bad("'" + wrong + "' is corrected to itself");
      const bool hangul = words[0].script == analysis::Script::kHangul;
      if (anywhere && !hangul) return bad("'*' (anywhere in a word) is for Hangul forms only: '" + wrong + "'");
      using Where = QueryRules::SpellingFix::Where;
      r->spelling.push_back({wrong, right, anywhere ? Where::kAnywhere : hangul ? Where::kWordStart : Where::kWholeWord});
      ++added;
    }
    if (added == 0) return bad("empty left side of '=>'");
  }
  // Longest first, so 어떻해요 => ... wins over 어떻해 => ... where both match.
  std::stable_sort(r->spelling.begin(), r->spelling.end(),
                   [](const auto& a, const auto& b) { return a.wrong.size() > b.wrong.size(); });
  return Status();
}

}  // namespace

const char* SearchTypeName(SearchType type) { return type == SearchType::kRag ? "rag" : "general"; }

IntentGuess QueryRules::Classify(std::string_view q, std::size_t word_count) const {
  for (const IntentRule& rule : intent_rules) {
    bool match = false;
    for (const std::string& s : rule.contains) match = match || q.find(s) != std::string_view::npos;
    for (const std::string& s : rule.ends_with) match = match || q.ends_with(s);
    if (rule.max_words > 0 && word_count <= rule.max_words) match = true;
    if (match) return {rule.intent, rule.confidence};
  }
  return default_intent;
}

const char* FusionName(Fusion fusion) { return fusion == Fusion::kLinear ? "linear" : "rrf"; }

std::string EmbedderProfile(std::string_view model_id) {
  return model_id.starts_with("hash-") ? "hash" : "semantic";
}

FusionSettings QueryRules::Settings(SearchType type, Intent intent, std::string_view profile) const {
  if (auto p = profiles.find(std::string(profile)); p != profiles.end()) {
    auto it = p->second.find({type, intent});
    if (it != p->second.end()) return it->second;
    it = p->second.find({SearchType::kGeneral, intent});
    if (it != p->second.end()) return it->second;
  }
  auto it = fusion.find({type, intent});
  if (it != fusion.end()) return it->second;
  it = fusion.find({SearchType::kGeneral, intent});
  return it != fusion.end() ? it->second : fallback;
}

const Calibration* QueryRules::CalibrationFor(std::string_view profile, std::string_view mode) const {
  std::string key(profile);
  key += '/';
  key += mode;
  auto it = calibration.find(key);
  return it == calibration.end() ? nullptr : &it->second;
}

Result<std::shared_ptr<const QueryRules>> LoadQueryRules(const QueryRulesFiles& files) {
  auto rules = std::make_shared<QueryRules>();
  Defaults(rules.get());
  const analysis::Analyzer analyzer;
  if (!files.rules.empty()) TIDE_RETURN_IF_ERROR(ParseRules(files.rules, rules.get()));
  if (!files.stopwords.empty()) TIDE_RETURN_IF_ERROR(ParseStopwords(files.stopwords, analyzer, rules.get()));
  if (!files.synonyms.empty()) TIDE_RETURN_IF_ERROR(ParseSynonyms(files.synonyms, analyzer, rules.get()));
  if (!files.spelling.empty()) TIDE_RETURN_IF_ERROR(ParseSpelling(files.spelling, analyzer, rules.get()));
  return std::shared_ptr<const QueryRules>(std::move(rules));
}

Result<std::unique_ptr<QueryRulesWatcher>> QueryRulesWatcher::Start(const QueryRulesFiles& files,
                                                                    std::chrono::milliseconds interval,
                                                                    std::function<void(const Status&)> observe) {
  Result<std::unique_ptr<Reloading<QueryRules>>> rules =
      Reloading<QueryRules>::Start("query rules", {files.rules, files.stopwords, files.synonyms, files.spelling},
                                   [files] { return LoadQueryRules(files); }, interval, std::move(observe));
  if (!rules) return rules.status();
  return std::unique_ptr<QueryRulesWatcher>(new QueryRulesWatcher(std::move(*rules)));
}

}  // namespace tide::query
