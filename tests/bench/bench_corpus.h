#pragma once

// A synthetic but realistic corpus for the index benchmarks (ann_bench, keyword_bench):
// N chunks of REAL text, re-combined sentences of
//   * the KLUE corpus (shared/data/klue-nli-retrieval/corpus.jsonl: 1,000 Korean premises
//     from six domains), and
//   * the LibreOffice Korean help (`tidectl import-help` output: ~2,500 pages, Korean with
//     untranslated English passages, as real help systems are),
// spread over Zipf-sized containers (a few large, many small), with queries that are also
// real text: KLUE hypotheses (paraphrases of corpus premises) and perturbed fragments of
// corpus sentences. Never random vectors: the benchmarks embed these texts.
//
// How a chunk is made: every container has a topic, a run of neighbouring source documents
// (help pages sorted by path, so a run is one module's area; a KLUE domain is one document).
// A chunk leads with 2-6 consecutive sentences of a document, drawn 85% from its container's
// topic and 15% from anywhere, and sometimes (30%) carries one more sentence of another
// document. So containers are topical, as team spaces are, and a filter that permits a few
// containers permits a few topics, not a uniform sample: the harder case for a filtered
// graph walk.
//
// Everything is deterministic in CorpusOptions::seed and the input files.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"

namespace tide::bench {

struct CorpusOptions {
  std::size_t chunks = 100'000;
  std::size_t queries = 1'000;  // at most half of them (and at most 1,000) are KLUE queries
  std::uint64_t seed = 20261122;
  // Zipf-sized containers; 0 means chunks / 100.
  std::size_t containers = 0;
  std::filesystem::path klue_dir;  // must hold corpus.jsonl and queries.jsonl
  // `tidectl import-help` events ("doc_id", "text"); empty means KLUE sentences only.
  std::filesystem::path help_events;
};

struct Corpus {
  std::vector<std::string> texts;              // chunk i has label i + 1
  std::vector<std::uint32_t> container_of;     // container ordinal of chunk i
  std::vector<std::size_t> container_size;     // chunks per container ordinal
  // KLUE hypotheses and corpus fragments, alternating (while both last), so any prefix of
  // the list, which is what a time-boxed measurement uses, holds both kinds.
  std::vector<std::string> queries;
  std::vector<bool> query_is_klue;  // by query
  std::size_t klue_queries = 0;
  std::size_t source_sentences = 0;
  std::size_t source_documents = 0;
  std::size_t text_bytes = 0;

  // One line: "100000 chunks (38.2 MB of text) from 61234 sentences of 2556 documents, ...".
  std::string Describe() const;
};

// Builds the corpus. InvalidArgument/NotFound if an input file is missing or malformed.
Result<Corpus> MakeCorpus(const CorpusOptions& options);

// Containers whose chunks add up to at most round(fraction * chunks) and as close to it as a
// greedy pass over the containers in a seeded random order gets (the many small containers
// fill the remainder). fraction >= 1 returns every container. Never empty.
std::vector<std::uint32_t> PickContainers(const Corpus& corpus, double fraction,
                                          std::uint64_t seed);

}  // namespace tide::bench
