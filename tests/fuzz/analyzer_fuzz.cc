// libFuzzer target: the text analysis shared by indexing and queries (normalisation, words,
// terms, particle stripping) and the query pipeline with the shipped rules, stopwords,
// synonyms and spelling corrections (configs/).
//
// Checks besides the sanitizers: everything produced is valid UTF-8 (whatever the input; typo
// neighbours too, and few of them), and a particle-stripped word is a non-empty prefix of the
// word.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/analysis/analyzer.h"
#include "common/analysis/normalizer.h"
#include "common/utf8.h"
#include "query/query_pipeline.h"
#include "query/query_rules.h"
#include "query/typo_matching.h"

namespace {

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "analyzer_fuzz: %s\n", what);
    std::abort();
  }
}

const tide::query::QueryRules& Rules() {
  static const std::shared_ptr<const tide::query::QueryRules> rules = [] {
    const std::string configs = std::string(TIDE_SOURCE_DIR) + "/configs/";
    auto loaded = tide::query::LoadQueryRules(
        {configs + "search_rules.json", configs + "stopwords.txt", configs + "synonyms.txt", configs + "spelling.txt"});
    Check(loaded.ok(), "the shipped query rules do not load");
    return *loaded;
  }();
  return *rules;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using tide::utf8::IsValid;
  static const tide::analysis::Analyzer analyzer;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string normalized = tide::analysis::Normalize(text);
  Check(IsValid(normalized), "Normalize made invalid UTF-8");
  for (const tide::analysis::Word& word : analyzer.Words(normalized)) {
    Check(IsValid(word.text), "a word is not UTF-8");
    if (word.script == tide::analysis::Script::kHangul) {
      const std::string_view stem = analyzer.StripParticle(word.text);
      Check(!stem.empty() && word.text.starts_with(stem), "a stem is not a prefix of its word");
    }
  }
  for (const std::string& term : analyzer.Terms(text)) Check(IsValid(term), "a term is not UTF-8");
  const tide::query::AnalyzedQuery query = tide::query::AnalyzeQuery(text, Rules(), analyzer);
  Check(query.terms.size() == query.term_weights.size(), "a term without a weight");
  Check(IsValid(query.embedding_text), "the embedding text is not UTF-8");
  Check(query.own_terms <= query.terms.size(), "more own terms than terms");
  for (const auto& word : query.words) {
    // Typo neighbours of every query word: bounded in number, valid UTF-8.
    const std::vector<std::string> variants = tide::query::OneEditVariants(word.key, word.script);
    Check(variants.size() <= 1200, "too many typo neighbours");
    for (const std::string& v : variants) Check(IsValid(v), "a typo neighbour is not UTF-8");
  }
  return 0;
}
