#include "tests/testutil/temp_dir.h"

#include <stdlib.h>

#include <string>
#include <system_error>

namespace tide::testutil {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "tide-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace tide::testutil
