#include "common/storage/schema.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tide::storage {
namespace {

TEST(SchemaTest, U64KeysSortNumerically) {
  EXPECT_LT(EncodeU64(9), EncodeU64(10));
  EXPECT_LT(EncodeU64(255), EncodeU64(256));
  EXPECT_LT(EncodeU64(1ull << 40), EncodeU64((1ull << 40) + 1));
  Result<std::uint64_t> v = DecodeU64(EncodeU64(0x0102030405060708ull));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 0x0102030405060708ull);
  EXPECT_FALSE(DecodeU64("short").ok());
}

TEST(SchemaTest, DocKeyRoundTripsAndPrefixesItsContainerOnly) {
  std::string key = DocKey("hr", "policies/leave.md");
  std::string container, doc;
  ASSERT_TRUE(SplitDocKey(key, &container, &doc).ok());
  EXPECT_EQ(container, "hr");
  EXPECT_EQ(doc, "policies/leave.md");
  EXPECT_EQ(key.rfind(DocKeyPrefix("hr"), 0), 0u);
  // "hr" must not be a prefix match for container "hr2".
  EXPECT_NE(DocKey("hr2", "x").rfind(DocKeyPrefix("hr"), 0), 0u);
}

TEST(SchemaTest, DocRecordRoundTrips) {
  DocRecord doc{7, false, "제목", "file:///a", "text/html", R"({"tags":["a"]})", {3, 4, 5}, {0, 2, 9}, {7, 5, 6}};
  Result<DocRecord> back = DecodeDoc(EncodeDoc(doc));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->version, 7);
  EXPECT_FALSE(back->deleted);
  EXPECT_EQ(back->title, "제목");
  EXPECT_EQ(back->metadata_json, R"({"tags":["a"]})");
  EXPECT_EQ(back->labels, (std::vector<std::uint64_t>{3, 4, 5}));
  EXPECT_EQ(back->ordinals, (std::vector<std::uint32_t>{0, 2, 9}));
  EXPECT_EQ(back->chunk_versions, (std::vector<std::int64_t>{7, 5, 6}));
  EXPECT_EQ(back->FindOrdinal(9), std::optional<std::size_t>(2));
  EXPECT_EQ(back->FindOrdinal(1), std::nullopt);
}

TEST(SchemaTest, DocRecordsWrittenBeforeChunkEventsGetDefaultOrdinalsAndVersions) {
  nlohmann::json old = {{"v", 4}, {"t", ""}, {"l", {11, 12}}, {"x", false}};
  std::string value(1, static_cast<char>(kFormatVersion));
  nlohmann::json::to_msgpack(old, value);
  Result<DocRecord> back = DecodeDoc(value);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ordinals, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_EQ(back->chunk_versions, (std::vector<std::int64_t>{4, 4}));
  // Lists that disagree are corruption, not something to guess about.
  DocRecord bad{1, false, "", "", "", "{}", {1, 2}, {0}, {1, 1}};
  EXPECT_EQ(DecodeDoc(EncodeDoc(bad)).status().code(), Status::Code::kCorruption);
}

TEST(SchemaTest, ChunkAndVectorRoundTrip) {
  ChunkRecord c{"scalc", "guide/a.html", 2, "피벗 테이블", "만들기 > 단계", 10, 20, 3, "본문 텍스트", "태그\nkw"};
  Result<ChunkRecord> back = DecodeChunk(EncodeChunk(c));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->container_id, "scalc");
  EXPECT_EQ(back->ordinal, 2u);
  EXPECT_EQ(back->heading, "만들기 > 단계");
  EXPECT_EQ(back->char_end, 20u);
  EXPECT_EQ(back->page, 3);
  EXPECT_EQ(back->text, "본문 텍스트");
  EXPECT_EQ(back->keywords, "태그\nkw");
  float v[3] = {0.5f, -1.25f, 3.0f};
  Result<std::vector<float>> vb = DecodeVector(EncodeVector(v, 3));
  ASSERT_TRUE(vb.ok());
  EXPECT_EQ(*vb, (std::vector<float>{0.5f, -1.25f, 3.0f}));
}

TEST(SchemaTest, ChangeRecordRoundTrips) {
  ChangeRecord change;
  change.entries = {{ChangeRecord::Op::kDelete, 4}, {ChangeRecord::Op::kUpsert, 9}};
  change.offsets["tide.documents/2"] = 41;
  Result<ChangeRecord> back = DecodeChange(EncodeChange(change));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->entries.size(), 2u);
  EXPECT_EQ(back->entries[0].op, ChangeRecord::Op::kDelete);
  EXPECT_EQ(back->entries[1].label, 9u);
  EXPECT_EQ(back->offsets.at("tide.documents/2"), 41);
}

TEST(SchemaTest, RejectsUnknownFormatVersionAndGarbage) {
  std::string v = EncodeDoc(DocRecord{});
  v[0] = 99;
  Result<DocRecord> bad = DecodeDoc(v);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kCorruption);
  EXPECT_FALSE(DecodeChunk("").ok());
  EXPECT_FALSE(DecodeChange(std::string("\x01garbage", 8)).ok());
}

}  // namespace
}  // namespace tide::storage
