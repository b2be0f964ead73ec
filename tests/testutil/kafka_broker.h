#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/testutil/kafka_client.h"
#include "tests/testutil/process.h"

namespace tide::testutil {

// Real Apache Kafka brokers for tests, in KRaft mode, started from the jars deploy/setup.sh
// resolved from Maven Central into `lib_dir`, listening on free loopback ports, with their
// logs and data under `dir`: one JVM (broker and controller), or a cluster of `nodes` JVMs,
// each a broker and a voter of the controller quorum, with internal topics replicated to 3
// (min.insync.replicas 2) so that one node may die. Topics are never created automatically.
// Stopped (SIGTERM, then SIGKILL) on destruction.
class KafkaBroker {
 public:
  // Waits until every node answers metadata requests (up to 120 s: JVMs on two busy cores).
  // nullptr and *error when the jars are missing or a node did not come up.
  static std::unique_ptr<KafkaBroker> Start(const std::filesystem::path& lib_dir, const std::filesystem::path& dir,
                                            std::string* error,
                                            const std::map<std::string, std::string>& overrides = {},
                                            int nodes = 1);
  ~KafkaBroker();

  // Every node's address, comma-separated.
  const std::string& bootstrap() const { return bootstrap_; }
  KafkaTestClient& client() { return *client_; }
  std::string Log() const;
  int nodes() const { return static_cast<int>(processes_.size()); }
  // Kills node `i` (0-based) with SIGKILL and waits for it to exit.
  void Kill(int i);
  // Starts node `i` again on its ports and data; true once the cluster lists it again.
  bool Restart(int i);

 private:
  KafkaBroker() = default;
  std::unique_ptr<Process> StartNode(int i) const;

  std::vector<std::unique_ptr<Process>> processes_;
  std::vector<std::filesystem::path> properties_;  // each node's server.properties
  std::vector<std::string> addresses_;             // each node's PLAINTEXT address
  std::filesystem::path lib_dir_, dir_;
  std::string bootstrap_;
  std::unique_ptr<KafkaTestClient> client_;
};

// A loopback port nobody listens on now (bound, read and released: port-0 style for programs
// that want a number).
int FreeLoopbackPort();

}  // namespace tide::testutil
