#include "common/index/keyword_segments.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "common/file_util.h"
#include "tests/testutil/temp_dir.h"
#include "tests/unit/common/bm25_reference.h"

namespace tide::index {
namespace {

using reference::AddZipfChunks;
using reference::Body;
using reference::ExpectTopK;
using reference::Queries;
using reference::Reference;

// Every fifth label: a permission filter narrowing the hits of a scope.
class EveryFifth : public LabelFilter {
 public:
  bool Allowed(std::uint64_t label) const override { return label % 5 == 0; }
};

void ExpectAllTopK(const KeywordSegments& index, const Reference& ref) {
  const EveryFifth every_fifth;
  for (const auto& q : Queries()) {
    ExpectTopK(index, ref, q, 10, {0, 1, 2, 3}, &every_fifth);
    ExpectTopK(index, ref, q, 10, {3}, &every_fifth);
    ExpectTopK(index, ref, q, 10, {0, 1, 2});
    ExpectTopK(index, ref, q, 10, {1});
    ExpectTopK(index, ref, q, 100, {0, 2});
    ExpectTopK(index, ref, q, 10, {3});
    ExpectTopK(index, ref, q, 10, {1, 3});
    ExpectTopK(index, ref, q, 1, {0, 1, 2, 3});
    ExpectTopK(index, ref, q, 100, {0, 1, 2, 3});
  }
}

// Each segment scores with the statistics of every segment, so the top k is the one
// exhaustive BM25 over all chunks gives: with a segment longer than the search's window of
// slots (9000), segments large enough for per-container counts (5000) and small ones (700,
// 18 of them), before and after deletes in sealed segments.
TEST(KeywordSegmentsTest, SearchOverSegmentsEqualsExhaustiveBm25) {
  for (std::size_t max_chunks : {std::size_t{9000}, std::size_t{5000}, std::size_t{700}}) {
    SCOPED_TRACE("segment_max_chunks " + std::to_string(max_chunks));
    KeywordSegments index({max_chunks, true});
    Reference ref;
    const std::uint64_t chunks = 3 * KeywordIndex::kCountedListLength;
    AddZipfChunks(1, chunks, &index, &ref);
    ASSERT_EQ(index.sealed_segments(), (chunks - 1) / max_chunks);
    ASSERT_EQ(index.size(), chunks);
    {
      SCOPED_TRACE("built");
      ExpectAllTopK(index, ref);
    }
    for (std::uint64_t label = 2; label <= chunks; label += 3) {
      ASSERT_TRUE(index.Remove(label));
      ASSERT_FALSE(index.Remove(label));
      ref.live.erase(label);
    }
    ASSERT_EQ(index.size(), ref.live.size());
    SCOPED_TRACE("after deletes");
    ExpectAllTopK(index, ref);
    // Document frequencies and presence are summed over the segments, scoped.
    ContainerSet scope;
    scope.Add(1);
    std::size_t df = 0;
    for (const auto& [label, chunk] : ref.live) {
      df += chunk.container == 1 && std::count(chunk.terms.begin(), chunk.terms.end(), "w7") > 0 ? 1 : 0;
    }
    EXPECT_EQ(index.DocFrequency(Field::kBody, "w7", scope), df);
    EXPECT_EQ(index.InScope(Field::kBody, "w7", scope), df > 0);
    EXPECT_FALSE(index.InScope(Field::kBody, "absent", scope));
  }
}

// Equal scores go to the lower label, also when the higher one is in an earlier segment
// (labels are not in slot order across segments).
TEST(KeywordSegmentsTest, TiesGoToTheLowerLabelInWhicheverSegment) {
  KeywordSegments index({2, true});
  index.Add(20, 0, Body({"tie", "x"}));
  index.Add(21, 0, Body({"other", "x"}));
  index.Add(10, 0, Body({"tie", "x"}));  // the first two are sealed: this one is in the next segment
  ASSERT_EQ(index.sealed_segments(), 1u);
  ContainerSet scope;
  scope.Add(0);
  std::vector<KeywordHit> hits = index.Search(Field::kBody, {"tie"}, 1, scope, {});
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].label, 10u);
  hits = index.Search(Field::kBody, {"tie"}, 2, scope, {});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].label, 10u);
  EXPECT_EQ(hits[1].label, 20u);
  EXPECT_EQ(hits[0].score, hits[1].score);
}

// A sealed segment whose chunks are all deleted goes, in a searching process and in the
// worker alike; so does a full growing one with nothing live, instead of being sealed.
// A term frequency from 255 up (kept beside its posting list) scores exactly in any segment a
// search reads, not only in the first.
TEST(KeywordSegmentsTest, AWideTermFrequencyScoresExactlyInALaterSegment) {
  KeywordSegments index({4, true});
  Reference ref;
  auto add = [&](std::uint64_t label, std::vector<std::string> terms) {
    index.Add(label, 0, Body(terms));
    ref.live.emplace(label, Reference::Chunk{0, std::move(terms)});
  };
  for (std::uint64_t label = 1; label <= 9; ++label) add(label, {"w", "v"});
  std::vector<std::string> many_w(70000, "w");
  many_w.push_back("v");
  add(10, many_w);  // the third segment, second of its w list
  add(11, {"w"});
  ASSERT_EQ(index.sealed_segments(), 2u);
  for (const auto& q : std::vector<std::vector<std::string>>{{"w"}, {"w", "v"}, {"v"}}) {
    ExpectTopK(index, ref, q, 10, {0});
    ExpectTopK(index, ref, q, 1, {0});
  }
}

TEST(KeywordSegmentsTest, ASegmentLeftWithNothingLiveIsDropped) {
  for (bool keep_sealed : {true, false}) {
    SCOPED_TRACE(keep_sealed ? "searching" : "worker");
    KeywordSegments index({100, keep_sealed});
    Reference ref;
    AddZipfChunks(1, 250, &index, &ref);  // two sealed, 50 growing
    ASSERT_EQ(index.sealed_segments(), 2u);
    for (std::uint64_t label = 1; label <= 99; ++label) ASSERT_TRUE(index.Remove(label));
    EXPECT_EQ(index.sealed_segments(), 2u);
    ASSERT_TRUE(index.Remove(100));
    EXPECT_EQ(index.sealed_segments(), 1u);
    EXPECT_EQ(index.size(), 150u);
    for (std::uint64_t label = 101; label <= 200; ++label) ASSERT_TRUE(index.Remove(label));
    EXPECT_EQ(index.sealed_segments(), 0u);
    EXPECT_EQ(index.size(), 50u);
  }
  KeywordSegments index({100, true});
  Reference ref;
  AddZipfChunks(1, 100, &index, &ref);  // a full growing segment
  for (std::uint64_t label = 1; label <= 100; ++label) ASSERT_TRUE(index.Remove(label));
  AddZipfChunks(101, 10, &index, &ref);  // nothing live to seal
  EXPECT_EQ(index.sealed_segments(), 0u);
  EXPECT_EQ(index.size(), 10u);
}

// The snapshot's part: a sealed segment's file is written by the first save after its seal
// and linked by later ones; deletes after the write reach a load through the chunk table.
class KeywordSegmentsSaveTest : public ::testing::TestWithParam<bool> {
 protected:
  // A save into `name` under the temporary directory, published there.
  nlohmann::json Save(KeywordSegments* index, const std::string& name, std::string* tables) {
    const std::filesystem::path dir = tmp_.path() / name;
    std::filesystem::create_directories(dir);
    KeywordSegments::PendingSave save = index->PrepareSave(dir, tables);
    Result<nlohmann::json> written = save.Write();
    EXPECT_TRUE(written.ok()) << written.status().ToString();
    index->FinishSave(save, dir);
    return written.ok() ? *written : nlohmann::json();
  }

  testutil::TempDir tmp_;
};

TEST_P(KeywordSegmentsSaveTest, SealedSegmentsAreWrittenOnceAndLoadWithTheirDeletes) {
  const bool keep_sealed = GetParam();
  KeywordSegments index({500, keep_sealed});
  Reference ref;
  AddZipfChunks(1, 1600, &index, &ref);  // three sealed segments and a growing one
  std::string tables;
  const nlohmann::json first = Save(&index, "a", &tables);
  ASSERT_EQ(first["sealed"].size(), 3u);
  for (const nlohmann::json& s : first["sealed"]) EXPECT_TRUE(s["written"].get<bool>());
  EXPECT_EQ(index.sealed_segments_in_memory(), keep_sealed ? 3u : 0u);
  // Deletes in sealed segments (counted beside them in the worker) and in the growing one.
  std::set<std::uint64_t> deleted;
  for (std::uint64_t label = 5; label <= 1600; label += 4) {
    ASSERT_TRUE(index.Remove(label));
    ASSERT_FALSE(index.Remove(label));
    ref.live.erase(label);
    deleted.insert(label);
  }
  EXPECT_EQ(index.size(), ref.live.size());
  AddZipfChunks(1601, 450, &index, &ref);  // seals a fourth
  tables.clear();
  const nlohmann::json second = Save(&index, "b", &tables);
  ASSERT_EQ(second["sealed"].size(), 4u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(second["sealed"][i]["written"].get<bool>()) << i;
    const std::string name = second["sealed"][i]["file"];
    EXPECT_EQ(std::filesystem::hard_link_count(tmp_.path() / "b" / name), 2u) << name;
  }
  EXPECT_TRUE(second["sealed"][3]["written"].get<bool>());

  // A searching process loads it, and the chunk table (here the reference) removes what was
  // deleted after each file was written.
  KeywordSegments loaded({500, true});
  ASSERT_TRUE(loaded.Load(tmp_.path() / "b", second, tables).ok());
  const std::size_t removed = loaded.RemoveUnlisted([&](std::uint64_t label) { return ref.live.contains(label); });
  EXPECT_GT(removed, 0u);
  EXPECT_LE(removed, deleted.size());
  EXPECT_EQ(loaded.size(), ref.live.size());
  EXPECT_EQ(loaded.sealed_segments(), 4u);
  ExpectAllTopK(loaded, ref);
  // A worker loads only the sealed segments' labels.
  KeywordSegments worker({500, false});
  ASSERT_TRUE(worker.Load(tmp_.path() / "b", second, tables).ok());
  EXPECT_EQ(worker.RemoveUnlisted([&](std::uint64_t label) { return ref.live.contains(label); }), removed);
  EXPECT_EQ(worker.size(), ref.live.size());
  EXPECT_EQ(worker.sealed_segments_in_memory(), 0u);
  EXPECT_FALSE(worker.Remove(5));
  EXPECT_TRUE(worker.Remove(6));
}

TEST_P(KeywordSegmentsSaveTest, DamagedOrMissingSegmentFilesAreCorruption) {
  KeywordSegments index({200, GetParam()});
  Reference ref;
  AddZipfChunks(1, 500, &index, &ref);
  std::string tables;
  const nlohmann::json manifest = Save(&index, "a", &tables);
  ASSERT_EQ(manifest["sealed"].size(), 2u);
  const std::filesystem::path file = tmp_.path() / "a" / manifest["sealed"][1]["file"].get<std::string>();
  auto load = [&](const nlohmann::json& m) {
    KeywordSegments loaded({200, GetParam()});
    return loaded.Load(tmp_.path() / "a", m, tables);
  };
  ASSERT_TRUE(load(manifest).ok());
  nlohmann::json wrong_size = manifest;
  wrong_size["sealed"][0]["bytes"] = manifest["sealed"][0]["bytes"].get<std::uint64_t>() + 1;
  EXPECT_EQ(load(wrong_size).code(), Status::Code::kCorruption);
  nlohmann::json out_of_range = manifest;
  out_of_range["sealed"][1]["id"] = manifest["next_id"];
  EXPECT_EQ(load(out_of_range).code(), Status::Code::kCorruption);
  // The same size, garbled: the label table no longer decodes.
  Result<std::string> bytes = ReadFile(file);
  ASSERT_TRUE(bytes.ok());
  std::string garbled(bytes->size(), '\xff');
  std::filesystem::remove(file);  // a linked file would change under the other name too
  ASSERT_TRUE(WriteFileAtomic(file, garbled).ok());
  const Status damaged = load(manifest);
  EXPECT_EQ(damaged.code(), Status::Code::kCorruption) << damaged.ToString();
  EXPECT_NE(damaged.message().find(file.filename().string()), std::string::npos) << damaged.ToString();
  std::filesystem::remove(file);
  EXPECT_EQ(load(manifest).code(), Status::Code::kCorruption);
}

// A published file gone from under a process that holds its sealed segments: that snapshot
// fails, and the next one writes the segments again instead of failing the same way.
TEST(KeywordSegmentsTest, ASnapshotWhoseLinkFailsIsFollowedByOneThatWritesTheSegment) {
  testutil::TempDir tmp;
  KeywordSegments index({200, true});
  Reference ref;
  AddZipfChunks(1, 500, &index, &ref);
  auto save = [&](const std::string& name, bool publish) -> Result<nlohmann::json> {
    const std::filesystem::path dir = tmp.path() / name;
    std::filesystem::create_directories(dir);
    std::string tables;
    KeywordSegments::PendingSave pending = index.PrepareSave(dir, &tables);
    Result<nlohmann::json> written = pending.Write();
    index.FinishSave(pending, written.ok() && publish ? dir : std::filesystem::path());
    return written;
  };
  ASSERT_TRUE(save("a", true).ok());
  std::filesystem::remove(tmp.path() / "a" / "kw-0000000001.bin");
  EXPECT_FALSE(save("b", true).ok());
  Result<nlohmann::json> again = save("c", true);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE((*again)["sealed"][0]["written"].get<bool>());
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "c" / "kw-0000000001.bin"));
}

INSTANTIATE_TEST_SUITE_P(KeepSealed, KeywordSegmentsSaveTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Searching" : "Worker";
                         });

}  // namespace
}  // namespace tide::index
