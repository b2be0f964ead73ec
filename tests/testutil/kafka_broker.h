#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "tests/testutil/kafka_client.h"
#include "tests/testutil/process.h"

namespace tide::testutil {

// A real Apache Kafka broker for tests: one JVM in KRaft mode (broker and controller), started
// from the jars deploy/setup.sh resolved from Maven Central into `lib_dir`, listening on free
// loopback ports, with its logs and data under `dir`. Topics are never created automatically.
// Stopped (SIGTERM, then SIGKILL) on destruction.
class KafkaBroker {
 public:
  // Waits until the broker answers metadata requests (up to 120 s: a JVM on two busy cores).
  // nullptr and *error when the jars are missing or the broker did not come up.
  static std::unique_ptr<KafkaBroker> Start(const std::filesystem::path& lib_dir, const std::filesystem::path& dir,
                                            std::string* error,
                                            const std::map<std::string, std::string>& overrides = {});
  ~KafkaBroker();

  const std::string& bootstrap() const { return bootstrap_; }
  KafkaTestClient& client() { return *client_; }
  std::string Log() const { return process_->Log(); }

 private:
  KafkaBroker() = default;
  std::unique_ptr<Process> process_;
  std::string bootstrap_;
  std::unique_ptr<KafkaTestClient> client_;
};

// A loopback port nobody listens on now (bound, read and released: port-0 style for programs
// that want a number).
int FreeLoopbackPort();

}  // namespace tide::testutil
