// An index snapshot records the analyzer's term scheme, and one written under another scheme
// is not loaded (the index is rebuilt from the store instead of mixing term schemes).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/analysis/analyzer.h"
#include "common/index/index_set.h"
#include "common/index/snapshot_files.h"
#include "tests/testutil/index_options.h"
#include "tests/testutil/temp_dir.h"

namespace tide::index {
namespace {

using testutil::SmallIndexOptions;

std::filesystem::path OnlySnapshot(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> dirs;
  for (const auto& e : std::filesystem::directory_iterator(root)) {
    if (e.is_directory()) dirs.push_back(e.path());
  }
  EXPECT_EQ(dirs.size(), 1u);
  return dirs.empty() ? root : dirs.front();
}

nlohmann::json ReadManifest(const std::filesystem::path& dir) {
  std::ifstream in(dir / "MANIFEST.json");
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str());
}

// Written as a build from before manifests had a checksum of their own would have.
void WriteManifest(const std::filesystem::path& dir, nlohmann::json manifest) {
  manifest.erase("manifest_xxh3");
  std::ofstream(dir / "MANIFEST.json", std::ios::trunc) << manifest.dump(2);
}

class AnalyzerSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto set = IndexSet::Create(SmallIndexOptions());
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    set_ = std::move(*set);
    ASSERT_TRUE(set_->SaveSnapshot(root(), 2).ok());
  }
  std::filesystem::path root() const { return dir_.path() / "snapshots"; }

  testutil::TempDir dir_;
  std::unique_ptr<IndexSet> set_;
};

TEST_F(AnalyzerSnapshotTest, ManifestRecordsTheTermScheme) {
  const nlohmann::json manifest = ReadManifest(OnlySnapshot(root()));
  EXPECT_EQ(manifest.value("analyzer", std::string()), analysis::Analyzer().SchemeId());
  EXPECT_EQ(analysis::Analyzer().SchemeId(),
            "tide-terms-v" + std::to_string(analysis::Analyzer::kTermSchemeVersion) + "+ngrams+stems");
  EXPECT_TRUE(IndexSet::LoadLatestSnapshot(root(), SmallIndexOptions()).ok());
}

// A manifest written before manifests had their own checksum loads, unchecked.
TEST_F(AnalyzerSnapshotTest, AManifestWithoutItsOwnChecksumLoads) {
  const std::filesystem::path snap = OnlySnapshot(root());
  const nlohmann::json manifest = ReadManifest(snap);
  ASSERT_TRUE(manifest.contains("manifest_xxh3"));
  WriteManifest(snap, manifest);  // without it
  ASSERT_FALSE(ReadManifest(snap).contains("manifest_xxh3"));
  EXPECT_TRUE(IndexSet::LoadLatestSnapshot(root(), SmallIndexOptions()).ok());
}

TEST_F(AnalyzerSnapshotTest, SnapshotOfAnotherSchemeIsNotLoaded) {
  const std::filesystem::path snap = OnlySnapshot(root());
  nlohmann::json manifest = ReadManifest(snap);
  manifest["analyzer"] = "tide-terms-v1+ngrams+stems";
  WriteManifest(snap, manifest);

  auto loaded = IndexSet::LoadLatestSnapshot(root(), SmallIndexOptions());
  ASSERT_FALSE(loaded.ok());
  // NotFound is what the worker and the daemon answer by rebuilding from the change log.
  EXPECT_EQ(loaded.status().code(), Status::Code::kNotFound);
  EXPECT_NE(loaded.status().message().find("tide-terms-v1"), std::string::npos) << loaded.status().ToString();
}

TEST_F(AnalyzerSnapshotTest, SnapshotWithoutARecordedSchemeIsNotLoaded) {
  const std::filesystem::path snap = OnlySnapshot(root());
  nlohmann::json manifest = ReadManifest(snap);
  manifest.erase("analyzer");  // written before the manifest recorded the scheme
  WriteManifest(snap, manifest);

  auto loaded = IndexSet::LoadLatestSnapshot(root(), SmallIndexOptions());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Status::Code::kNotFound);
}

TEST_F(AnalyzerSnapshotTest, SavingTheSameStateReplacesASnapshotOfAnotherScheme) {
  const std::filesystem::path snap = OnlySnapshot(root());
  nlohmann::json manifest = ReadManifest(snap);
  manifest["analyzer"] = "tide-terms-v1+ngrams+stems";
  WriteManifest(snap, manifest);

  // Same applied sequence, so the same directory name: it must be rewritten, or every restart
  // would skip it and rebuild again.
  ASSERT_TRUE(set_->SaveSnapshot(root(), 2).ok());
  EXPECT_EQ(ReadManifest(OnlySnapshot(root())).value("analyzer", std::string()), analysis::Analyzer().SchemeId());
  EXPECT_TRUE(IndexSet::LoadLatestSnapshot(root(), SmallIndexOptions()).ok());
}

// The same for a snapshot whose manifest was damaged after this process wrote it (its files
// intact): the loaders skip it, so saving the same state writes it again.
TEST_F(AnalyzerSnapshotTest, SavingTheSameStateReplacesASnapshotWhoseManifestIsDamaged) {
  const std::filesystem::path snap = OnlySnapshot(root());
  nlohmann::json manifest = ReadManifest(snap);
  manifest["chunks"] = manifest.value("chunks", std::uint64_t{0}) + 1;  // the checksum left as it was
  std::ofstream(snap / "MANIFEST.json", std::ios::trunc) << manifest.dump(2);
  ASSERT_FALSE(IndexSet::LoadLatestSnapshot(root(), SmallIndexOptions()).ok());

  ASSERT_TRUE(set_->SaveSnapshot(root(), 2).ok());
  EXPECT_TRUE(CheckManifest(ReadManifest(OnlySnapshot(root()))).ok());
  EXPECT_TRUE(IndexSet::LoadLatestSnapshot(root(), SmallIndexOptions()).ok());
}

}  // namespace
}  // namespace tide::index
