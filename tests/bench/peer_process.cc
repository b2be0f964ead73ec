#include "tests/bench/peer_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

namespace tide::bench {
namespace {

[[noreturn]] void Die(const std::string& name, const std::string& what) {
  std::fprintf(stderr, "keyword_bench: peer %s: %s\n", name.c_str(), what.c_str());
  std::exit(1);
}

// Text on one protocol line: tabs and line breaks become spaces.
std::string OneLine(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  for (std::string f; std::getline(in, f, '\t');) fields.push_back(f);
  return fields;
}

}  // namespace

PeerProcess::PeerProcess(const std::vector<std::string>& argv) : name_(argv.at(0)) {
  signal(SIGPIPE, SIG_IGN);  // a peer that dies shows as a write error, not our death
  int to_child[2], from_child[2];
  // Close-on-exec, so that a peer started later does not hold this one's stdin open.
  if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) Die(name_, "pipe failed");
  pid_ = fork();
  if (pid_ < 0) Die(name_, "fork failed");
  if (pid_ == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    close(to_child[0]);
    close(to_child[1]);
    close(from_child[0]);
    close(from_child[1]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "keyword_bench: cannot run %s\n", args[0]);
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  to_ = fdopen(to_child[1], "w");
  from_ = fdopen(from_child[0], "r");
  if (to_ == nullptr || from_ == nullptr) Die(name_, "fdopen failed");
}

PeerProcess::~PeerProcess() {
  if (to_ != nullptr) std::fclose(to_);
  if (from_ != nullptr) std::fclose(from_);
  if (pid_ > 0) waitpid(pid_, nullptr, 0);
}

void PeerProcess::Send(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), to_) != text.size()) Die(name_, "the peer stopped reading");
}

std::string PeerProcess::ReadLine() {
  if (std::fflush(to_) != 0) Die(name_, "the peer stopped reading");
  std::string line;
  for (int c; (c = std::fgetc(from_)) != '\n';) {
    if (c == EOF) Die(name_, "the peer exited (its messages, if any, are above)");
    line.push_back(static_cast<char>(c));
  }
  return line;
}

std::pair<std::size_t, std::string> PeerProcess::Build(const std::vector<std::string>& texts,
                                                       const std::vector<std::uint32_t>& containers,
                                                       const std::vector<std::string>* titles) {
  Send((titles != nullptr ? "build-fields\t" : "build\t") + std::to_string(texts.size()) + "\n");
  for (std::size_t i = 0; i < texts.size(); ++i) {
    Send(std::to_string(containers[i]) + "\t" + (titles != nullptr ? OneLine((*titles)[i]) + "\t" : "") +
         OneLine(texts[i]) + "\n");
  }
  const std::vector<std::string> reply = SplitTabs(ReadLine());
  if (reply.size() != 3 || reply[0] != "built") Die(name_, "unexpected reply to build");
  return {std::stoull(reply[1]), reply[2]};
}

QueryBatch PeerProcess::Search(const std::vector<std::string>& queries, std::size_t k, double budget_seconds,
                              double min_seconds) {
  char header[128];
  std::snprintf(header, sizeof(header), "search\t%zu\t%zu\t%.3f\t%.3f\n", k, queries.size(), budget_seconds,
                min_seconds);
  Send(header);
  for (const std::string& q : queries) Send(OneLine(q) + "\n");
  QueryBatch batch;
  for (;;) {
    const std::string line = ReadLine();
    if (line.rfind("searched\t", 0) == 0) {
      const std::vector<std::string> f = SplitTabs(line);
      if (f.size() != 4 || std::stoull(f[1]) != batch.hits.size()) Die(name_, "unexpected end of search: " + line);
      batch.timed = std::stoull(f[2]);
      batch.seconds = std::stod(f[3]);
      return batch;
    }
    std::vector<std::size_t> hits;
    std::stringstream in(line);
    for (std::size_t ord; in >> ord;) hits.push_back(ord);
    batch.hits.push_back(std::move(hits));
  }
}

}  // namespace tide::bench
