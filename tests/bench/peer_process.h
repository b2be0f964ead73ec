#pragma once

// A full-text engine in another process (Lucene on the JVM, Tantivy in Rust), driven by
// keyword_bench over a pipe. The peer reads requests on stdin and answers on stdout; its
// stderr is ours. Lines are UTF-8; fields are separated by one tab; document and query text
// has its tabs and line breaks replaced by spaces before it is sent.
//
//   build <n>                     then n lines: <container> <text>
//     -> built <index bytes> <how the bytes were counted>
//   build-fields <n>              then n lines: <container> <title> <text>, for a peer variant
//                                 that scores a title field and a body field (same reply)
//   search <k> <n> <budget s> <min s>   then n lines: <query text>
//     -> one line per query run: the ordinals (0-based, in build order) of up to k hits,
//        best first, separated by spaces (an empty line: no hit)
//     -> searched <queries run> <queries timed> <seconds>
//
// `search` runs the queries in order until all have run or `budget` seconds have passed (at
// least one; budget 0: all, and the peer's untimed warm-up pass over the same queries is
// skipped), then repeats the ones that ran
// until `min` seconds are spent; `queries timed / seconds` is the rate. The peer times itself,
// so the pipe costs nothing in that rate. End of input: the peer exits.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace tide::bench {

struct QueryBatch {
  std::vector<std::vector<std::size_t>> hits;  // per query run, best first
  std::size_t timed = 0;                       // queries run including the repeats
  double seconds = 0;
};

class PeerProcess {
 public:
  // Starts argv[0] (looked up on PATH) with the rest as arguments. Exits the benchmark with a
  // message if it cannot be started.
  explicit PeerProcess(const std::vector<std::string>& argv);
  ~PeerProcess();  // closes stdin and waits for the peer to exit
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  // Index bytes and how they were counted.
  // With `titles`, each document's title goes in a field of its own (build-fields).
  std::pair<std::size_t, std::string> Build(const std::vector<std::string>& texts,
                                            const std::vector<std::uint32_t>& containers,
                                            const std::vector<std::string>* titles = nullptr);
  QueryBatch Search(const std::vector<std::string>& queries, std::size_t k, double budget_seconds,
                   double min_seconds);

 private:
  std::string ReadLine();  // exits the benchmark if the peer closed its stdout
  void Send(const std::string& text);

  std::string name_;
  pid_t pid_ = -1;
  std::FILE* to_ = nullptr;
  std::FILE* from_ = nullptr;
};

}  // namespace tide::bench
