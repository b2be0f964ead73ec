#include "common/file_util.h"

#include <cstdint>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/testutil/temp_dir.h"

namespace tide {
namespace {

class WriteFileAtomicTest : public ::testing::Test {
 protected:
  // Bytes that differ from step to step, so a step written twice or skipped shows.
  static std::string Pattern(std::size_t size) {
    std::string out(size, '\0');
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (std::size_t i = 0; i < size; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      out[i] = static_cast<char>(x);
    }
    return out;
  }

  testutil::TempDir temp_;
  const std::filesystem::path& dir_ = temp_.path();
};

TEST_F(WriteFileAtomicTest, AFileOfSeveralWritebackStepsIsWrittenWholeAndReplacesTheOldOne) {
  const std::filesystem::path path = dir_ / "big.bin";
  ASSERT_TRUE(WriteFileAtomic(path, "old contents").ok());
  // Two full 8 MiB steps and a part of a third.
  const std::string contents = Pattern((std::size_t{8} << 20) * 2 + 12345);
  ASSERT_TRUE(WriteFileAtomic(path, contents).ok());
  Result<std::string> read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), contents.size());
  EXPECT_TRUE(*read == contents);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "big.bin.tmp"));
}

TEST_F(WriteFileAtomicTest, SmallAndEmptyFiles) {
  for (const std::string& contents : {std::string(), std::string("x"), Pattern(4096)}) {
    const std::filesystem::path path = dir_ / "small.bin";
    ASSERT_TRUE(WriteFileAtomic(path, contents).ok());
    Result<std::string> read = ReadFile(path);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_TRUE(*read == contents) << contents.size() << " bytes";
  }
}

TEST_F(WriteFileAtomicTest, AFailureToCreateIsAnErrorThatNamesTheFile) {
  const Status s = WriteFileAtomic(dir_ / "missing-dir" / "f.bin", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("missing-dir"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace tide
