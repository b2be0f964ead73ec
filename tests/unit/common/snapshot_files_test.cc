// Issue 14: every file of an index snapshot is listed in its manifest with its size and XXH3
// checksum, so a damaged file is corruption even where it still decodes.

#include "common/index/snapshot_files.h"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "common/digest.h"
#include "common/file_util.h"
#include "tests/testutil/temp_dir.h"

namespace tide::index {
namespace {

TEST(DigestTest, Xxh3OfAFileEqualsXxh3OfItsContentsAcrossReadPieces) {
  // XXH3-64 of no bytes, seed 0: the reference value xxHash's own tests use.
  EXPECT_EQ(Xxh3Hex(""), "2d06800538d394c2");
  testutil::TempDir dir;
  std::string contents;
  for (int i = 0; contents.size() < (9u << 20); ++i) contents += "청크 " + std::to_string(i) + ' ';
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "big", contents).ok());
  std::uint64_t bytes = 0;
  Result<std::string> hash = Xxh3FileHex(dir.path() / "big", &bytes);
  ASSERT_TRUE(hash.ok()) << hash.status().ToString();
  EXPECT_EQ(*hash, Xxh3Hex(contents));
  EXPECT_EQ(bytes, contents.size());
  EXPECT_FALSE(Xxh3FileHex(dir.path() / "missing").ok());
}

class SnapshotFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WriteFileAtomic(dir_.path() / "tables.bin", "tables of chunks").ok());
    ASSERT_TRUE(WriteFileAtomic(dir_.path() / "seg-0000000001.hnsw", std::string(5000, 'g')).ok());
    ASSERT_TRUE(WriteFileAtomic(dir_.path() / "MANIFEST.json", "{}").ok());
  }
  FileChecksums Checksums() {
    Result<FileChecksums> files = ChecksumSnapshotFiles(dir_.path(), {});
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    return files.ok() ? *files : FileChecksums();
  }
  // Corruption whose message names `name`.
  void ExpectCorruptionNaming(const FileChecksums& files, const std::string& name) {
    const Status s = SnapshotFiles(dir_.path(), files).CheckRest();
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
    EXPECT_NE(s.message().find(name), std::string::npos) << s.message();
  }

  testutil::TempDir dir_;
};

TEST_F(SnapshotFilesTest, EveryFileButTheManifestIsListedAndVerifies) {
  const FileChecksums files = Checksums();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files.at("tables.bin").bytes, 16u);
  EXPECT_EQ(files.at("tables.bin").xxh3, Xxh3Hex("tables of chunks"));
  EXPECT_EQ(files.at("seg-0000000001.hnsw").bytes, 5000u);
  EXPECT_TRUE(SnapshotFiles(dir_.path(), files).CheckRest().ok());
}

TEST_F(SnapshotFilesTest, OneByteChangedInPlaceIsCorruptionNamingTheFile) {
  const FileChecksums files = Checksums();
  std::string damaged(5000, 'g');
  damaged[2500] = 'h';  // same size: only the checksum can tell
  ASSERT_TRUE(WriteFileAtomic(dir_.path() / "seg-0000000001.hnsw", damaged).ok());
  ExpectCorruptionNaming(files, "seg-0000000001.hnsw");
}

TEST_F(SnapshotFilesTest, AMissingResizedOrUnlistedFileIsCorruption) {
  const FileChecksums files = Checksums();
  ASSERT_TRUE(WriteFileAtomic(dir_.path() / "tables.bin", "tables of chunks, longer").ok());
  ExpectCorruptionNaming(files, "tables.bin");
  ASSERT_TRUE(WriteFileAtomic(dir_.path() / "tables.bin", "tables of chunks").ok());
  ASSERT_TRUE(SnapshotFiles(dir_.path(), files).CheckRest().ok());

  ASSERT_TRUE(WriteFileAtomic(dir_.path() / "kw-0000000002.bin", "a segment the manifest does not name").ok());
  ExpectCorruptionNaming(files, "kw-0000000002.bin");
  std::filesystem::remove(dir_.path() / "kw-0000000002.bin");

  std::filesystem::remove(dir_.path() / "tables.bin");
  ExpectCorruptionNaming(files, "tables.bin");
}

// A sealed segment's file is carried from snapshot to snapshot as a hard link: its checksum
// is taken from what the process knows, not read again; a file written anew always is.
TEST_F(SnapshotFilesTest, LinkedFilesTakeTheKnownChecksumAndWrittenOnesAreRead) {
  FileChecksums known = Checksums();
  known["seg-0000000001.hnsw"].xxh3 = "0123456789abcdef";  // what the process was told, not the file's
  known["tables.bin"].xxh3 = "0123456789abcdef";
  testutil::TempDir next;
  std::filesystem::create_hard_link(dir_.path() / "seg-0000000001.hnsw", next.path() / "seg-0000000001.hnsw");
  ASSERT_TRUE(WriteFileAtomic(next.path() / "tables.bin", "tables of chunks").ok());
  Result<FileChecksums> files = ChecksumSnapshotFiles(next.path(), known);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(files->at("seg-0000000001.hnsw").xxh3, "0123456789abcdef");    // linked: known
  EXPECT_EQ(files->at("tables.bin").xxh3, Xxh3Hex("tables of chunks"));   // written: read

  // A linked file of another size than when its checksum was taken is damaged: hashing it
  // now would give the damage a valid checksum.
  known["seg-0000000001.hnsw"].bytes = 4999;
  files = ChecksumSnapshotFiles(next.path(), known);
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.status().code(), Status::Code::kCorruption) << files.status().ToString();
  EXPECT_NE(files.status().message().find("seg-0000000001.hnsw"), std::string::npos);
}

TEST_F(SnapshotFilesTest, TheManifestEntriesRoundTripAndMalformedOnesAreCorruption) {
  const FileChecksums files = Checksums();
  Result<FileChecksums> back = FileChecksumsFromJson(FileChecksumsToJson(files));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, files);

  for (const char* bad : {R"([])", R"({"a": 1})", R"({"a": {"bytes": 1}})", R"({"a": {"bytes": -1, "xxh3": "0123456789abcdef"}})",
                          R"({"a": {"bytes": 1, "xxh3": "0123"}})", R"({"a": {"bytes": 1, "xxh3": "0123456789ABCDEF"}})",
                          R"({"../a": {"bytes": 1, "xxh3": "0123456789abcdef"}})"}) {
    Result<FileChecksums> parsed = FileChecksumsFromJson(nlohmann::json::parse(bad));
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), Status::Code::kCorruption) << bad;
  }
}

// A loader reads each file once: the reader hashes what passes through it, whether it comes
// through its buffer (small reads) or straight into the caller's memory (large ones).
TEST(SnapshotFileReaderTest, HashesWhatItReadsThroughTheBufferAndStraightThrough) {
  testutil::TempDir dir;
  std::string contents;
  for (int i = 0; contents.size() < (11u << 20); ++i) contents += "벡터 " + std::to_string(i) + ' ';
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "f", contents).ok());
  Result<std::unique_ptr<SnapshotFileReader>> in = SnapshotFileReader::Open(dir.path() / "f");
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  SnapshotFileReader& r = **in;
  EXPECT_EQ(r.size(), contents.size());
  std::string got(contents.size(), '\0');
  std::size_t at = 0;
  // Small reads (buffered), one larger than the buffer (straight through, several steps),
  // small again, then a skip and the rest.
  for (std::size_t n : {std::size_t{3}, std::size_t{4096}, std::size_t{9} << 20, std::size_t{17}}) {
    ASSERT_TRUE(r.Read(got.data() + at, n).ok());
    at += n;
  }
  ASSERT_TRUE(r.Skip(1000).ok());
  at += 1000;
  Result<std::string> rest = r.ReadRest();
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(rest->size(), contents.size() - at);
  EXPECT_TRUE(got.compare(0, at - 1000, contents, 0, at - 1000) == 0);
  EXPECT_TRUE(*rest == contents.substr(at));
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(r.Checksum(), (FileChecksum{contents.size(), Xxh3Hex(contents)}));

  // Past the end: Corruption naming the file, before anything is read.
  char byte = 0;
  const Status past = r.Read(&byte, 1);
  EXPECT_EQ(past.code(), Status::Code::kCorruption) << past.ToString();
  EXPECT_NE(past.message().find(dir.path().string()), std::string::npos) << past.message();
  EXPECT_EQ(SnapshotFileReader::Open(dir.path() / "missing").status().code(), Status::Code::kNotFound);

  // An empty file: nothing to read, and the checksum of no bytes.
  ASSERT_TRUE(WriteFileAtomic(dir.path() / "empty", "").ok());
  in = SnapshotFileReader::Open(dir.path() / "empty");
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  ASSERT_TRUE((*in)->Read(&byte, 0).ok());
  rest = (*in)->ReadRest();
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_TRUE(rest->empty());
  EXPECT_EQ((*in)->Checksum(), (FileChecksum{0, Xxh3Hex("")}));
  // A read that failed fails every later read the same way.
  EXPECT_EQ((*in)->Read(&byte, 1).code(), Status::Code::kCorruption);
  EXPECT_EQ((*in)->Read(&byte, 0).code(), Status::Code::kCorruption);
  EXPECT_EQ((*in)->failed().code(), Status::Code::kCorruption);
}

TEST_F(SnapshotFilesTest, AFileIsCheckedAsItsLoaderReadsItAndTheRestAfter) {
  const FileChecksums listed = Checksums();
  {
    SnapshotFiles files(dir_.path(), listed);
    Result<std::string> tables = files.ReadFile("tables.bin");
    ASSERT_TRUE(tables.ok()) << tables.status().ToString();
    EXPECT_EQ(*tables, "tables of chunks");
    EXPECT_TRUE(files.CheckRest().ok());
    // Damage to a file no loader read is found by CheckRest.
    std::string damaged(5000, 'g');
    damaged[4999] = 'h';
    ASSERT_TRUE(WriteFileAtomic(dir_.path() / "seg-0000000001.hnsw", damaged).ok());
    const Status rest = files.CheckRest();
    EXPECT_EQ(rest.code(), Status::Code::kCorruption) << rest.ToString();
    EXPECT_NE(rest.message().find("seg-0000000001.hnsw"), std::string::npos) << rest.message();
    // A file read is not read again: tables.bin changed now is not CheckRest's to find.
    ASSERT_TRUE(WriteFileAtomic(dir_.path() / "seg-0000000001.hnsw", std::string(5000, 'g')).ok());
    ASSERT_TRUE(WriteFileAtomic(dir_.path() / "tables.bin", "tables of chunkz").ok());
    EXPECT_TRUE(files.CheckRest().ok());
  }
  {
    // ...but the next load reads it, and its loader gets Corruption instead of the bytes.
    SnapshotFiles files(dir_.path(), listed);
    Result<std::string> tables = files.ReadFile("tables.bin");
    ASSERT_FALSE(tables.ok());
    EXPECT_EQ(tables.status().code(), Status::Code::kCorruption) << tables.status().ToString();
    EXPECT_NE(tables.status().message().find("tables.bin"), std::string::npos);
    // A file read only in part is not checked by its reading.
    Result<std::unique_ptr<SnapshotFileReader>> partial = files.Open("seg-0000000001.hnsw");
    ASSERT_TRUE(partial.ok());
    char head[10];
    ASSERT_TRUE((*partial)->Read(head, sizeof head).ok());
    EXPECT_EQ(files.Finish(**partial).code(), Status::Code::kCorruption);
  }
  {
    // A snapshot that lists no checksums (written before they were) is read unchecked.
    SnapshotFiles files(dir_.path(), {});
    EXPECT_TRUE(files.ReadFile("tables.bin").ok());
    EXPECT_TRUE(files.CheckRest().ok());
  }
}

}  // namespace
}  // namespace tide::index
