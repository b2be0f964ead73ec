#include "ingest/applier.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "common/date_util.h"
#include "common/embedding/hash_embedder.h"
#include "common/index/index_set.h"
#include "common/index/replayer.h"
#include "common/storage/store.h"
#include "ingest/fsck.h"
#include "tests/testutil/temp_dir.h"

namespace tide::ingest {
namespace {

using storage::Cf;

Event Upsert(std::string doc, std::int64_t version, std::string text, std::string container = "scalc") {
  Event e;
  e.type = EventType::kDocumentUpsert;
  e.container_id = std::move(container);
  e.doc_id = std::move(doc);
  e.version = version;
  e.title = "제목 " + e.doc_id;
  e.text = std::move(text);
  return e;
}

Event Delete(std::string doc, std::optional<std::int64_t> version, std::string container = "scalc") {
  Event e;
  e.type = EventType::kDocumentDelete;
  e.container_id = std::move(container);
  e.doc_id = std::move(doc);
  e.version = version;
  return e;
}

class ApplierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::Store::OpenPrimary(dir_.path() / "store", {.sync_writes = false});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    Applier::Options o;
    o.chunker.max_chars = 60;
    o.chunker.overlap_chars = 0;
    applier_ = std::make_unique<Applier>(store_.get(), &embedder_, o);
    ASSERT_TRUE(applier_->Init().ok());
    auto set = index::IndexSet::Create(IndexOptions());
    ASSERT_TRUE(set.ok());
    indexes_ = std::move(*set);
  }

  BatchResult Apply(std::vector<Event> events) {
    std::vector<BatchItem> batch;
    for (Event& e : events) batch.push_back({"t", 0, next_offset_++, std::move(e)});
    return ApplyItems(batch);
  }

  // As Apply, at the given source offsets of partition t/0 (a replay of earlier messages).
  BatchResult ApplyItems(const std::vector<BatchItem>& batch) {
    auto r = applier_->ApplyBatch(batch);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    auto caught = index::CatchUp(*indexes_, *store_, SIZE_MAX);
    EXPECT_TRUE(caught.ok());
    return r.ok() ? *r : BatchResult{};
  }

  // The index options matching this fixture's embedder.
  index::IndexSet::Options IndexOptions() const {
    index::IndexSet::Options io;
    io.model_id = embedder_.model_id();
    io.vector.dim = embedder_.dimension();
    return io;
  }

  std::optional<storage::DocRecord> Doc(const std::string& doc, const std::string& container = "scalc") {
    auto v = store_->Get(Cf::kDocs, storage::DocKey(container, doc));
    EXPECT_TRUE(v.ok());
    if (!v.ok() || !v->has_value()) return std::nullopt;
    auto decoded = storage::DecodeDoc(**v);
    EXPECT_TRUE(decoded.ok());
    return decoded.ok() ? std::optional<storage::DocRecord>(*decoded) : std::nullopt;
  }

  // Store and indexes agree and hold no orphan.
  void ExpectFsckClean() {
    index::IndexSet::Options io = IndexOptions();
    auto report = CheckStore(*store_, nullptr, io);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->ok()) << report->problems.front();
    EXPECT_EQ(CountCf(Cf::kChunks), CountCf(Cf::kVectors));
    EXPECT_EQ(indexes_->size(), CountCf(Cf::kChunks));
  }

  std::size_t CountCf(Cf cf) {
    std::size_t n = 0;
    EXPECT_TRUE(store_->Scan(cf, "", "", [&](auto, auto) { return ++n, true; }).ok());
    return n;
  }

  std::vector<std::uint64_t> KeywordLabels(const std::string& query, const std::string& container = "scalc") {
    auto scope = indexes_->ResolveContainers({container});
    std::vector<std::uint64_t> labels;
    for (const auto& h : indexes_->SearchKeyword(index::Field::kBody, indexes_->analyzer().Terms(query), 100, scope)) {
      labels.push_back(h.label);
    }
    return labels;
  }

  testutil::TempDir dir_;
  embedding::HashEmbedder embedder_{embedding::HashEmbedder::Options{64}};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Applier> applier_;
  std::unique_ptr<index::IndexSet> indexes_;
  std::int64_t next_offset_ = 0;
};

TEST_F(ApplierTest, UpsertWritesChunksVectorsAndIsSearchable) {
  BatchResult r = Apply({Upsert("a", 1, "피벗 테이블을 만듭니다. 데이터 범위를 선택하십시오.")});
  EXPECT_EQ(r.applied, 1u);
  EXPECT_GE(r.chunks, 1u);
  EXPECT_EQ(CountCf(Cf::kChunks), r.chunks);
  EXPECT_EQ(CountCf(Cf::kVectors), r.chunks);
  EXPECT_EQ(KeywordLabels("피벗 테이블").size(), r.chunks > 0 ? 1u : 0u);
  EXPECT_EQ(indexes_->size(), r.chunks);
  auto offset = applier_->StoredOffset("t", 0);
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(**offset, 1);
}

TEST_F(ApplierTest, RedeliveryAndStaleVersionsAreSkippedAndCounted) {
  Apply({Upsert("a", 2, "버전 둘")});
  BatchResult again = Apply({Upsert("a", 2, "버전 둘"), Upsert("a", 1, "버전 하나")});
  EXPECT_EQ(again.applied, 0u);
  EXPECT_EQ(again.duplicate, 1u);
  EXPECT_EQ(again.stale, 1u);
  EXPECT_EQ(again.change_seq, 0u);
  EXPECT_EQ(applier_->counters().applied, 1u);
  EXPECT_EQ(applier_->counters().duplicate, 1u);
  EXPECT_EQ(applier_->counters().stale, 1u);
  EXPECT_TRUE(KeywordLabels("하나").empty());
}

TEST_F(ApplierTest, NewVersionWithFewerChunksLeavesNoOrphans) {
  std::string long_text;
  for (int i = 0; i < 10; ++i) long_text += "셀 서식 문장 번호 " + std::to_string(i) + "입니다.\n\n";
  BatchResult first = Apply({Upsert("a", 1, long_text)});
  ASSERT_GT(first.chunks, 3u);
  BatchResult second = Apply({Upsert("a", 2, "짧은 새 본문.")});
  EXPECT_EQ(second.chunks, 1u);
  EXPECT_EQ(CountCf(Cf::kChunks), 1u);
  EXPECT_EQ(CountCf(Cf::kVectors), 1u);
  EXPECT_EQ(indexes_->size(), 1u);
  EXPECT_TRUE(KeywordLabels("서식").empty());
  EXPECT_EQ(KeywordLabels("짧은").size(), 1u);
}

TEST_F(ApplierTest, DeleteAndTombstoneRemoveEverythingAndKeepTheVersion) {
  Apply({Upsert("a", 1, "삭제될 문서"), Upsert("b", 1, "남는 문서")});
  BatchResult del = Apply({Delete("a", 2)});
  EXPECT_EQ(del.applied, 1u);
  EXPECT_TRUE(KeywordLabels("삭제될").empty());
  // An older upsert replayed after the delete stays deleted.
  BatchResult replay = Apply({Upsert("a", 1, "삭제될 문서")});
  EXPECT_EQ(replay.stale, 1u);
  EXPECT_TRUE(KeywordLabels("삭제될").empty());
  // A tombstone deletes whatever version is stored.
  BatchResult tomb = Apply({Delete("b", std::nullopt)});
  EXPECT_EQ(tomb.applied, 1u);
  EXPECT_EQ(CountCf(Cf::kChunks), 0u);
  EXPECT_EQ(indexes_->size(), 0u);
  // And a newer version re-creates the document.
  Apply({Upsert("a", 3, "다시 살아난 문서")});
  EXPECT_EQ(KeywordLabels("살아난").size(), 1u);
}

TEST_F(ApplierTest, SameDocumentTwiceInOneBatchLeavesOnlyTheLastVersion) {
  std::string long_text;
  for (int i = 0; i < 6; ++i) long_text += "첫 버전 문단 " + std::to_string(i) + " 입니다.\n\n";
  BatchResult r = Apply({Upsert("a", 1, long_text), Upsert("a", 2, "둘째 버전"), Upsert("b", 1, "남을 문서"),
                         Delete("b", 2), Upsert("c", 1, "셋째"), Delete("c", std::nullopt)});
  EXPECT_EQ(r.applied, 6u);
  EXPECT_EQ(CountCf(Cf::kChunks), 1u);  // a v2 only
  EXPECT_EQ(CountCf(Cf::kVectors), 1u);
  EXPECT_EQ(indexes_->size(), 1u);
  EXPECT_TRUE(KeywordLabels("첫").empty());
  EXPECT_EQ(KeywordLabels("둘째").size(), 1u);
  index::IndexSet::Options io = IndexOptions();
  auto report = CheckStore(*store_, nullptr, io);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->problems.front();
}

Event ContainerDelete(std::string container) {
  Event e;
  e.type = EventType::kContainerDelete;
  e.container_id = std::move(container);
  return e;
}

Event Acl(std::string principal, std::int64_t version, std::vector<std::string> containers, bool remove = false) {
  Event e;
  e.type = remove ? EventType::kAclDelete : EventType::kAclUpsert;
  e.principal = std::move(principal);
  e.version = version;
  e.containers = std::move(containers);
  return e;
}

TEST_F(ApplierTest, ContainerDeleteRemovesEveryDocumentOfItAndOnlyIt) {
  Apply({Upsert("a", 3, "인사 문서 하나", "hr"), Upsert("b", 1, "인사 문서 둘", "hr"), Upsert("c", 1, "엔지니어링", "eng")});
  BatchResult r = Apply({Upsert("d", 1, "같은 배치의 인사 문서", "hr"), ContainerDelete("hr")});
  EXPECT_EQ(r.applied, 2u);
  EXPECT_TRUE(KeywordLabels("문서", "hr").empty());
  EXPECT_EQ(KeywordLabels("엔지니어링", "eng").size(), 1u);
  EXPECT_EQ(CountCf(Cf::kChunks), 1u);
  // Markers keep each document's version: an older upsert stays stale, a newer one returns.
  BatchResult replay = Apply({Upsert("a", 2, "옛 판", "hr"), Upsert("b", 2, "새 판", "hr")});
  EXPECT_EQ(replay.stale, 1u);
  EXPECT_EQ(replay.applied, 1u);
  EXPECT_EQ(KeywordLabels("새", "hr").size(), 1u);
  index::IndexSet::Options io = IndexOptions();
  auto report = CheckStore(*store_, nullptr, io);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->problems.front();
}

TEST_F(ApplierTest, AclEventsAreVersionedLikeDocuments) {
  auto stored = [&](const std::string& principal) -> std::optional<storage::AclRecord> {
    auto v = store_->Get(Cf::kAcl, principal);
    if (!v.ok() || !v->has_value()) return std::nullopt;
    return *storage::DecodeAcl(**v);
  };
  BatchResult r = Apply({Acl("alice", 2, {"hr", "eng"}), Acl("alice", 1, {"ops"}), Acl("alice", 2, {"hr", "eng"})});
  EXPECT_EQ(r.applied, 1u);
  EXPECT_EQ(r.stale, 1u);
  EXPECT_EQ(r.duplicate, 1u);
  ASSERT_TRUE(stored("alice"));
  EXPECT_EQ(stored("alice")->containers, (std::vector<std::string>{"hr", "eng"}));
  Apply({Acl("alice", 3, {}, /*remove=*/true)});
  ASSERT_TRUE(stored("alice"));
  EXPECT_TRUE(stored("alice")->deleted);
  BatchResult late = Apply({Acl("alice", 2, {"hr"})});
  EXPECT_EQ(late.stale, 1u);  // the delete marker keeps the old grant out
  EXPECT_TRUE(stored("alice")->deleted);
}

TEST_F(ApplierTest, KeywordFieldHoldsTitleHeadingsAndMetadataTags) {
  Event e = Upsert("a", 1, "# 데이터 파일럿\n\n본문에는 없는 말.");
  e.metadata_json = R"({"tags": ["피벗테이블", "datapilot"], "keywords": "교차표"})";
  Apply({e});
  auto title_hits = [&](const std::string& q) {
    auto scope = indexes_->ResolveContainers({"scalc"});
    return indexes_->SearchKeyword(index::Field::kTitle, indexes_->analyzer().Terms(q), 10, scope).size();
  };
  EXPECT_EQ(title_hits("datapilot"), 1u);   // a tag
  EXPECT_EQ(title_hits("교차표"), 1u);       // a keyword
  EXPECT_EQ(title_hits("파일럿"), 1u);       // the heading path
  EXPECT_EQ(title_hits("제목"), 1u);         // the title ("제목 a")
  EXPECT_EQ(title_hits("본문에는"), 0u);     // body text stays in the full-text field
  EXPECT_TRUE(KeywordLabels("datapilot").empty());
}

TEST_F(ApplierTest, DeadLetteredItemsOnlyMoveTheOffset) {
  std::vector<BatchItem> batch = {{"t", 4, 10, std::nullopt}, {"t", 4, 11, Upsert("a", 1, "본문")}};
  auto r = applier_->ApplyBatch(batch);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->dead_lettered, 1u);
  EXPECT_EQ(r->applied, 1u);
  EXPECT_EQ(**applier_->StoredOffset("t", 4), 12);
}

TEST_F(ApplierTest, ContainersAreIsolatedInTheIndexes) {
  Apply({Upsert("a", 1, "공통 단어 고양이", "hr"), Upsert("b", 1, "공통 단어 강아지", "eng")});
  EXPECT_EQ(KeywordLabels("공통", "hr").size(), 1u);
  EXPECT_EQ(KeywordLabels("공통", "eng").size(), 1u);
  EXPECT_TRUE(KeywordLabels("강아지", "hr").empty());
  EXPECT_TRUE(KeywordLabels("공통", "nobody").empty());
}

TEST_F(ApplierTest, StoreRemembersItsEmbedderAndRefusesAnother) {
  embedding::HashEmbedder other(embedding::HashEmbedder::Options{128});
  Applier wrong(store_.get(), &other, {});
  Status s = wrong.Init();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("hash-v1-d64"), std::string::npos);
}

TEST_F(ApplierTest, SnapshotPlusChangeLogEqualsTheLiveIndexes) {
  Apply({Upsert("a", 1, "첫 문서 피벗"), Upsert("b", 1, "둘째 문서 매크로")});
  ASSERT_TRUE(indexes_->SaveSnapshot(dir_.path() / "snapshots", 2).ok());
  Apply({Upsert("c", 1, "셋째 문서 피벗"), Delete("a", 2)});
  index::IndexSet::Options io = IndexOptions();
  auto loaded = index::IndexSet::LoadLatestSnapshot(dir_.path() / "snapshots", io);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->size(), 2u);  // as of the snapshot
  ASSERT_TRUE(index::CatchUp(**loaded, *store_, SIZE_MAX).ok());
  EXPECT_EQ((*loaded)->applied_seq(), indexes_->applied_seq());
  EXPECT_EQ((*loaded)->size(), indexes_->size());
  auto scope = (*loaded)->ResolveContainers({"scalc"});
  auto hits = (*loaded)->SearchKeyword(index::Field::kBody, (*loaded)->analyzer().Terms("피벗"), 10, scope);
  EXPECT_EQ(hits.size(), 1u);  // c only: a was deleted after the snapshot
  io.model_id = "another-model";
  auto refused = index::IndexSet::LoadLatestSnapshot(dir_.path() / "snapshots", io);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kInvalidArgument);
}

TEST_F(ApplierTest, FsckPassesAfterChurnAndFindsPlantedOrphans) {
  std::string long_text;
  for (int i = 0; i < 6; ++i) long_text += "문단 " + std::to_string(i) + " 입니다.\n\n";
  Apply({Upsert("a", 1, long_text), Upsert("b", 1, "둘")});
  Apply({Upsert("a", 2, "짧게"), Delete("b", 2), Upsert("c", 1, long_text, "hr")});
  ASSERT_TRUE(indexes_->SaveSnapshot(dir_.path() / "snapshots", 2).ok());
  Apply({Delete("c", std::nullopt, "hr")});
  index::IndexSet::Options io = IndexOptions();
  const std::filesystem::path snapshots = dir_.path() / "snapshots";
  auto report = CheckStore(*store_, &snapshots, io);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok()) << report->problems.front();
  EXPECT_EQ(report->documents, 1u);
  EXPECT_EQ(report->deleted_documents, 2u);

  // Plant an orphan chunk + vector, as a non-atomic writer would leave after a crash.
  storage::WriteBatch wb;
  storage::ChunkRecord orphan{"scalc", "ghost", 0, "", "", 0, 1, -1, "유령", ""};
  wb.Put(Cf::kChunks, storage::EncodeU64(9999), storage::EncodeChunk(orphan));
  ASSERT_TRUE(store_->Write(&wb).ok());
  auto bad = CheckStore(*store_, nullptr, io);
  ASSERT_TRUE(bad.ok());
  ASSERT_FALSE(bad->ok());
  bool found = false;
  for (const std::string& p : bad->problems) found |= p.find("orphan chunk 9999") != std::string::npos;
  EXPECT_TRUE(found);
}

Event ChunkUpsert(std::string doc, std::int64_t version, std::uint32_t ordinal, std::string text,
                  std::string container = "scalc") {
  Event e;
  e.type = EventType::kChunkUpsert;
  e.container_id = std::move(container);
  e.doc_id = std::move(doc);
  e.version = version;
  e.ordinal = ordinal;
  e.chunks.push_back({std::move(text), "절", 3, std::nullopt, std::nullopt});
  return e;
}

Event ChunkDelete(std::string doc, std::int64_t version, std::uint32_t ordinal, std::string container = "scalc") {
  Event e;
  e.type = EventType::kChunkDelete;
  e.container_id = std::move(container);
  e.doc_id = std::move(doc);
  e.version = version;
  e.ordinal = ordinal;
  return e;
}

// Three chunks at the fixture's 60-character chunk size: each paragraph is over 30 characters.
const std::string kThreeParagraphs =
    "첫째 문단은 피벗 테이블을 만들고 데이터 범위를 고르는 방법을 설명합니다.\n\n"
    "둘째 문단은 조건부 서식으로 셀의 색을 값에 따라 바꾸는 방법을 설명합니다.\n\n"
    "셋째 문단은 차트 마법사로 막대 그래프를 그리는 방법을 차례로 설명합니다.";

TEST_F(ApplierTest, ChunkUpsertReplacesOrInsertsOneChunk) {
  ASSERT_EQ(Apply({Upsert("a", 1, kThreeParagraphs)}).chunks, 3u);
  BatchResult replaced = Apply({ChunkUpsert("a", 2, 1, "바뀐 둘째 문단 스파크라인")});
  EXPECT_EQ(replaced.applied, 1u);
  EXPECT_EQ(replaced.chunks, 1u);
  EXPECT_EQ(CountCf(Cf::kChunks), 3u);
  EXPECT_TRUE(KeywordLabels("조건부").empty());
  EXPECT_EQ(KeywordLabels("스파크라인").size(), 1u);
  EXPECT_EQ(KeywordLabels("피벗").size(), 1u);  // the other chunks stay

  BatchResult inserted = Apply({ChunkUpsert("a", 3, 7, "일곱째 자리의 매크로")});
  EXPECT_EQ(inserted.applied, 1u);
  std::optional<storage::DocRecord> doc = Doc("a");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->version, 3);
  EXPECT_EQ(doc->ordinals, (std::vector<std::uint32_t>{0, 1, 2, 7}));
  EXPECT_EQ(doc->chunk_versions, (std::vector<std::int64_t>{1, 2, 1, 3}));
  EXPECT_EQ(doc->title, "제목 a");  // the document's fields stay

  // The chunk written by an event carries the document's title and the event's place fields.
  auto chunk = store_->Get(Cf::kChunks, storage::EncodeU64(doc->labels[3]));
  ASSERT_TRUE(chunk.ok() && chunk->has_value());
  auto record = storage::DecodeChunk(**chunk);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->ordinal, 7u);
  EXPECT_EQ(record->title, "제목 a");
  EXPECT_EQ(record->heading, "절");
  EXPECT_EQ(record->page, 3);
  ExpectFsckClean();
}

TEST_F(ApplierTest, ChunkEventsFollowVersions) {
  Apply({Upsert("a", 2, kThreeParagraphs)});
  // Same version as the one that wrote the chunk: a redelivery. Older than the document: stale.
  BatchResult r = Apply({ChunkUpsert("a", 2, 0, "같은 판"), ChunkUpsert("a", 1, 1, "옛 판"), ChunkDelete("a", 1, 2)});
  EXPECT_EQ(r.applied, 0u);
  EXPECT_EQ(r.duplicate, 1u);
  EXPECT_EQ(r.stale, 2u);
  EXPECT_EQ(r.change_seq, 0u);
  // Chunks of one document version may come one event each: a new ordinal at the document's
  // version is applied, and sending it again is a duplicate.
  EXPECT_EQ(Apply({ChunkUpsert("a", 2, 3, "넷째 문단")}).applied, 1u);
  EXPECT_EQ(Apply({ChunkUpsert("a", 2, 3, "넷째 문단")}).duplicate, 1u);
  // A document.upsert replaces every chunk, including those chunk events wrote.
  Apply({Upsert("a", 3, "전부 새 본문")});
  std::optional<storage::DocRecord> doc = Doc("a");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->ordinals, (std::vector<std::uint32_t>{0}));
  EXPECT_TRUE(KeywordLabels("넷째").empty());
  ExpectFsckClean();
}

TEST_F(ApplierTest, ChunkDeleteRemovesOneChunkEverywhere) {
  Apply({Upsert("a", 1, kThreeParagraphs)});
  BatchResult r = Apply({ChunkDelete("a", 2, 0)});
  EXPECT_EQ(r.applied, 1u);
  EXPECT_EQ(CountCf(Cf::kChunks), 2u);
  EXPECT_TRUE(KeywordLabels("피벗").empty());
  std::optional<storage::DocRecord> doc = Doc("a");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->version, 2);
  EXPECT_EQ(doc->ordinals, (std::vector<std::uint32_t>{1, 2}));
  // Nothing left to delete: a chunk already gone, a document never seen.
  BatchResult again = Apply({ChunkDelete("a", 2, 0), ChunkDelete("nobody", 1, 0)});
  EXPECT_EQ(again.applied, 0u);
  EXPECT_EQ(again.duplicate, 2u);
  EXPECT_FALSE(Doc("nobody"));
  ExpectFsckClean();
}

TEST_F(ApplierTest, ChunkUpsertCreatesAMissingOrDeletedDocument) {
  Apply({ChunkUpsert("new", 1, 4, "문서 없이 온 청크")});
  std::optional<storage::DocRecord> doc = Doc("new");
  ASSERT_TRUE(doc);
  EXPECT_FALSE(doc->deleted);
  EXPECT_EQ(doc->ordinals, (std::vector<std::uint32_t>{4}));
  Apply({Delete("new", 2)});
  // At the delete's version it stays deleted; a newer chunk brings the document back.
  EXPECT_EQ(Apply({ChunkUpsert("new", 2, 0, "삭제와 같은 판")}).duplicate, 1u);
  EXPECT_EQ(Apply({ChunkUpsert("new", 3, 0, "되살아난 청크")}).applied, 1u);
  doc = Doc("new");
  ASSERT_TRUE(doc);
  EXPECT_FALSE(doc->deleted);
  EXPECT_EQ(doc->ordinals, (std::vector<std::uint32_t>{0}));
  EXPECT_EQ(KeywordLabels("되살아난").size(), 1u);
  ExpectFsckClean();
}

TEST_F(ApplierTest, ChunkEventsInTheBatchOfTheirDocumentLeaveNoOrphans) {
  BatchResult r = Apply({Upsert("a", 1, kThreeParagraphs), ChunkUpsert("a", 2, 0, "첫째 교체"),
                         ChunkDelete("a", 2, 1), ChunkUpsert("a", 3, 0, "첫째 다시 교체")});
  EXPECT_EQ(r.applied, 4u);
  EXPECT_EQ(r.chunks, 2u);  // chunk 0's first two texts never reach the store
  std::optional<storage::DocRecord> doc = Doc("a");
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->ordinals, (std::vector<std::uint32_t>{0, 2}));
  EXPECT_EQ(doc->chunk_versions, (std::vector<std::int64_t>{3, 1}));
  EXPECT_TRUE(KeywordLabels("교체").size() == 1u);
  EXPECT_TRUE(KeywordLabels("조건부").empty());
  ExpectFsckClean();
}

TEST_F(ApplierTest, ReplayedContainerDeleteDoesNotDeleteWhatCameAfterIt) {
  std::vector<BatchItem> log = {{"t", 0, 0, Upsert("a", 1, "인사 규정", "hr")},
                                {"t", 0, 1, ContainerDelete("hr")},
                                {"t", 0, 2, Upsert("a", 2, "새 인사 규정", "hr")}};
  for (const BatchItem& item : log) ApplyItems({item});
  ASSERT_EQ(KeywordLabels("규정", "hr").size(), 1u);
  // Replay the whole partition from its first offset: nothing changes.
  BatchResult replay = ApplyItems(log);
  EXPECT_EQ(replay.applied, 0u);
  EXPECT_EQ(replay.stale + replay.duplicate, 3u);
  EXPECT_EQ(KeywordLabels("규정", "hr").size(), 1u);
  // A container.delete at a later offset still applies.
  BatchResult later = ApplyItems({{"t", 0, 3, ContainerDelete("hr")}});
  EXPECT_EQ(later.applied, 1u);
  EXPECT_TRUE(KeywordLabels("규정", "hr").empty());
  ExpectFsckClean();
}

TEST_F(ApplierTest, CatchUpRebuildsTheVectorGraphWhenTombstonesPileUp) {
  index::IndexSet::Options io = IndexOptions();
  io.rebuild_min_tombstones = 4;
  io.rebuild_tombstone_ratio = 0.3;
  auto set = index::IndexSet::Create(io);
  ASSERT_TRUE(set.ok());
  indexes_ = std::move(*set);
  std::vector<Event> docs;
  for (int i = 0; i < 10; ++i) docs.push_back(Upsert("d" + std::to_string(i), 1, "문서 번호 " + std::to_string(i)));
  Apply(std::move(docs));
  ASSERT_EQ(indexes_->size(), 10u);
  // Two deletes: 2 of 10 slots are tombstones, below both limits.
  Apply({Delete("d0", 2), Delete("d1", 2)});
  EXPECT_EQ(indexes_->vector_tombstones(), 2u);
  // Four more: 6 of 10, over the ratio and the minimum: the graph is rebuilt without them.
  Apply({Delete("d2", 2), Delete("d3", 2), Delete("d4", 2), Delete("d5", 2)});
  EXPECT_EQ(indexes_->vector_tombstones(), 0u);
  EXPECT_EQ(indexes_->vector_size(), 4u);
  EXPECT_EQ(KeywordLabels("번호").size(), 4u);
  auto scope = indexes_->ResolveContainers({"scalc"});
  std::vector<float> query;
  ASSERT_TRUE(embedder_.Embed({"제목 d7\n문서 번호 7"}, embedding::InputType::kQuery, &query).ok());
  auto hits = indexes_->SearchVector(query, 10, scope);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 4u);
  ExpectFsckClean();
}

TEST_F(ApplierTest, MetadataFiltersActInsideEveryRetrieverAndSurviveSnapshots) {
  // Small ef so that a 50% filter walks the graph instead of scanning (see SearchVector's cost rule).
  index::IndexSet::Options io = IndexOptions();
  io.vector.ef_search = 1;
  io.vector.filtered_ef_search = 1;
  io.exact_scan_threshold = 0;
  auto set = index::IndexSet::Create(io);
  ASSERT_TRUE(set.ok());
  indexes_ = std::move(*set);
  std::vector<Event> docs;
  for (int i = 0; i < 400; ++i) {
    Event e = Upsert("d" + std::to_string(i), 1, "휴가 규정 문서 번호 " + std::to_string(i) + " 입니다.");
    nlohmann::json md = {{"doc_type", i % 2 == 0 ? "manual" : "faq"},
                         {"tags", i % 10 == 0 ? nlohmann::json{"연차", "인사"} : nlohmann::json("일반")},
                         {"created_at", "2025-01-" + std::string(i % 31 < 9 ? "0" : "") + std::to_string(i % 31 + 1)}};
    if (i == 7) md.erase("created_at");
    e.metadata_json = md.dump();
    docs.push_back(std::move(e));
  }
  Apply(std::move(docs));
  auto scope = indexes_->ResolveContainers({"scalc"});
  std::vector<float> query;
  ASSERT_TRUE(embedder_.Embed({"휴가 규정 문서"}, embedding::InputType::kQuery, &query).ok());
  auto doc_of = [&](std::uint64_t label) {
    auto v = store_->Get(Cf::kChunks, storage::EncodeU64(label));
    EXPECT_TRUE(v.ok() && v->has_value());
    return *storage::DecodeChunk(**v);
  };
  auto check = [&](const index::IndexSet& indexes, const index::MetadataFilter& f, std::size_t expect_vector,
                   const std::function<bool(const storage::ChunkRecord&)>& holds) {
    auto hits = indexes.SearchVector(query, 10, scope, &f);
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ(hits->size(), expect_vector);
    for (const auto& h : *hits) EXPECT_TRUE(holds(doc_of(h.label))) << doc_of(h.label).doc_id;
    auto words = indexes.SearchKeyword(index::Field::kBody, indexes.analyzer().Terms("휴가 규정"), 500, scope, &f);
    EXPECT_FALSE(words.empty());
    for (const auto& h : words) EXPECT_TRUE(holds(doc_of(h.label))) << doc_of(h.label).doc_id;
  };
  // 50% pass: the filtered graph walk.
  index::MetadataFilter manual;
  manual.doc_types = {"manual"};
  check(*indexes_, manual, 10, [](const storage::ChunkRecord& c) { return c.doc_type == "manual"; });
  // 10% pass, by tag (any of the given tags).
  index::MetadataFilter tagged;
  tagged.tags = {"인사", "없는태그"};
  check(*indexes_, tagged, 10, [](const storage::ChunkRecord& c) {
    return std::find(c.tags.begin(), c.tags.end(), "인사") != c.tags.end();
  });
  // A date range of one day plus a doc type: few pass, so they are scanned exactly and fewer
  // than k come back. The chunk without created_at never passes a date bound.
  index::MetadataFilter day;
  day.doc_types = {"faq"};
  day.created_min = *ParseDateMillis("2025-01-08");
  day.created_max = *ParseDateMillis("2025-01-08T23:59:59Z");
  std::size_t expected = 0;
  for (int i = 0; i < 400; ++i) expected += (i % 2 == 1 && i % 31 == 7 && i != 7) ? 1 : 0;
  ASSERT_GT(expected, 0u);
  check(*indexes_, day, expected, [](const storage::ChunkRecord& c) {
    return c.doc_type == "faq" && c.created_at == *ParseDateMillis("2025-01-08");
  });
  // An unknown value matches nothing.
  index::MetadataFilter unknown;
  unknown.doc_types = {"slides"};
  auto none = indexes_->SearchVector(query, 10, scope, &unknown);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // A snapshot keeps the attributes.
  ASSERT_TRUE(indexes_->SaveSnapshot(dir_.path() / "snapshots", 1).ok());
  auto loaded = index::IndexSet::LoadLatestSnapshot(dir_.path() / "snapshots", io);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  check(**loaded, day, expected, [](const storage::ChunkRecord& c) {
    return c.doc_type == "faq" && c.created_at == *ParseDateMillis("2025-01-08");
  });
}

}  // namespace
}  // namespace tide::ingest
