#include "ingest/event.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tide::ingest {
namespace {

Result<Event> Decode(const std::string& json, std::optional<std::string> key = std::nullopt) {
  return DecodeEvent(key, json, DecodeLimits{});
}

TEST(EventTest, DecodesADocumentUpsertWithText) {
  auto e = Decode(R"({"schema_version":1,"type":"document.upsert","container_id":"hr","doc_id":"a/b.md",
      "version":3,"title":"휴가 규정","text":"본문","source":{"uri":"s3://x","mime":"text/markdown"},
      "metadata":{"tags":["hr"]}})",
                  "hr/a/b.md");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->type, EventType::kDocumentUpsert);
  EXPECT_EQ(e->container_id, "hr");
  EXPECT_EQ(e->doc_id, "a/b.md");
  EXPECT_EQ(e->version, 3);
  EXPECT_EQ(e->title, "휴가 규정");
  EXPECT_EQ(*e->text, "본문");
  EXPECT_EQ(e->mime, "text/markdown");
  EXPECT_EQ(e->metadata_json, R"({"tags":["hr"]})");
}

TEST(EventTest, DecodesPreChunkedDocumentsAndDeletes) {
  auto e = Decode(R"({"schema_version":1,"type":"document.upsert","container_id":"c","doc_id":"d","version":1,
      "chunks":[{"text":"하나","heading":"H","page":2},{"text":"둘"}]})");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(e->chunks.size(), 2u);
  EXPECT_EQ(e->chunks[0].page, 2);
  EXPECT_EQ(e->chunks[1].page, -1);
  auto d = Decode(R"({"schema_version":1,"type":"document.delete","container_id":"c","doc_id":"d","version":2})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->type, EventType::kDocumentDelete);
}

TEST(EventTest, DecodesContainerDeleteAndAclEvents) {
  auto c = Decode(R"({"schema_version":1,"type":"container.delete","container_id":"hr"})", "hr");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->type, EventType::kContainerDelete);
  EXPECT_EQ(c->container_id, "hr");
  EXPECT_FALSE(Decode(R"({"schema_version":1,"type":"container.delete","container_id":"hr"})", "eng").ok());
  auto a = Decode(R"({"schema_version":1,"type":"acl.upsert","principal":"alice@example.com","version":3,
      "containers":["hr","eng-wiki"]})",
                  "acl:alice@example.com");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->type, EventType::kAclUpsert);
  EXPECT_EQ(a->principal, "alice@example.com");
  EXPECT_EQ(a->containers, (std::vector<std::string>{"hr", "eng-wiki"}));
  auto d = Decode(R"({"schema_version":1,"type":"acl.delete","principal":"alice@example.com","version":4})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->type, EventType::kAclDelete);
  EXPECT_FALSE(Decode(R"({"schema_version":1,"type":"acl.upsert","principal":"a","version":1,"containers":["a b"]})").ok());
  EXPECT_FALSE(Decode(R"({"schema_version":1,"type":"acl.upsert","principal":"","version":1,"containers":[]})").ok());
  EXPECT_FALSE(Decode(R"({"schema_version":1,"type":"acl.upsert","principal":"a","containers":[]})").ok());
  EXPECT_FALSE(Decode(R"({"schema_version":1,"type":"acl.delete","principal":"a","version":1})", "acl:b").ok());
}

TEST(EventTest, DecodesChunkEvents) {
  auto u = Decode(R"({"schema_version":1,"type":"chunk.upsert","container_id":"c","doc_id":"d","version":4,
      "ordinal":7,"text":"일곱째 청크","heading":"설치 > 윈도우","page":2,"char_begin":100,"char_end":106})",
                  "c/d");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->type, EventType::kChunkUpsert);
  EXPECT_EQ(u->ordinal, 7u);
  EXPECT_EQ(*u->version, 4);
  ASSERT_EQ(u->chunks.size(), 1u);
  EXPECT_EQ(u->chunks[0].text, "일곱째 청크");
  EXPECT_EQ(u->chunks[0].heading, "설치 > 윈도우");
  EXPECT_EQ(u->chunks[0].page, 2);
  EXPECT_EQ(u->chunks[0].char_begin, 100u);
  EXPECT_EQ(u->chunks[0].char_end, 106u);
  auto d = Decode(R"({"schema_version":1,"type":"chunk.delete","container_id":"c","doc_id":"d","version":5,"ordinal":0})");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->type, EventType::kChunkDelete);
  EXPECT_EQ(d->ordinal, 0u);
  EXPECT_TRUE(d->chunks.empty());
}

TEST(EventTest, TombstoneDeletesTheKeyedDocument) {
  auto e = DecodeEvent(std::string("eng-wiki/pages/1"), std::nullopt, DecodeLimits{});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->type, EventType::kDocumentDelete);
  EXPECT_EQ(e->container_id, "eng-wiki");
  EXPECT_EQ(e->doc_id, "pages/1");
  EXPECT_FALSE(e->version.has_value());
  EXPECT_FALSE(DecodeEvent(std::nullopt, std::nullopt, DecodeLimits{}).ok());
  EXPECT_FALSE(DecodeEvent(std::string("nokey"), std::nullopt, DecodeLimits{}).ok());
}

struct BadCase {
  const char* name;
  std::string json;
  const char* says;  // the reason must mention this
};

TEST(EventTest, RejectsBadEventsWithAReason) {
  const std::vector<BadCase> cases = {
      {"not json", "{nope", "JSON"},
      {"array", "[1]", "object"},
      {"no schema_version", R"({"type":"document.upsert"})", "schema_version"},
      {"future schema", R"({"schema_version":9,"type":"document.upsert"})", "schema_version"},
      {"unknown type", R"({"schema_version":1,"type":"document.frobnicate"})", "unknown event type"},
      {"bad container", R"({"schema_version":1,"type":"document.upsert","container_id":"a b","doc_id":"d","version":1,"text":"x"})", "container_id"},
      {"empty doc id", R"({"schema_version":1,"type":"document.upsert","container_id":"c","doc_id":"","version":1,"text":"x"})", "doc_id"},
      {"negative version", R"({"schema_version":1,"type":"document.upsert","container_id":"c","doc_id":"d","version":-1,"text":"x"})", "version"},
      {"no body", R"({"schema_version":1,"type":"document.upsert","container_id":"c","doc_id":"d","version":1})", "exactly one"},
      {"both bodies", R"({"schema_version":1,"type":"document.upsert","container_id":"c","doc_id":"d","version":1,"text":"x","chunks":[]})", "exactly one"},
      {"metadata type", R"({"schema_version":1,"type":"document.upsert","container_id":"c","doc_id":"d","version":1,"text":"x","metadata":[1]})", "metadata"},
      {"chunk without text", R"({"schema_version":1,"type":"document.upsert","container_id":"c","doc_id":"d","version":1,"chunks":[{"page":1}]})", "text"},
      {"chunk without ordinal", R"({"schema_version":1,"type":"chunk.upsert","container_id":"c","doc_id":"d","version":1,"text":"x"})", "ordinal"},
      {"negative ordinal", R"({"schema_version":1,"type":"chunk.delete","container_id":"c","doc_id":"d","version":1,"ordinal":-1})", "ordinal"},
      {"huge ordinal", R"({"schema_version":1,"type":"chunk.delete","container_id":"c","doc_id":"d","version":1,"ordinal":5000000})", "ordinal"},
      {"chunk.upsert without text", R"({"schema_version":1,"type":"chunk.upsert","container_id":"c","doc_id":"d","version":1,"ordinal":0})", "text"},
      {"chunk.delete without version", R"({"schema_version":1,"type":"chunk.delete","container_id":"c","doc_id":"d","ordinal":0})", "version"},
      {"half an offset", R"({"schema_version":1,"type":"chunk.upsert","container_id":"c","doc_id":"d","version":1,"ordinal":0,"text":"x","char_begin":3})", "char_end"},
      {"offsets reversed", R"({"schema_version":1,"type":"chunk.upsert","container_id":"c","doc_id":"d","version":1,"ordinal":0,"text":"x","char_begin":9,"char_end":3})", "after"},
      {"metadata date", R"({"schema_version":1,"type":"document.upsert","container_id":"c","doc_id":"d","version":1,"text":"x","metadata":{"created_at":"yesterday"}})", "created_at"},
      {"metadata impossible date", R"({"schema_version":1,"type":"document.upsert","container_id":"c","doc_id":"d","version":1,"text":"x","metadata":{"updated_at":"2025-02-30"}})", "updated_at"},
      {"metadata doc_type", R"({"schema_version":1,"type":"document.upsert","container_id":"c","doc_id":"d","version":1,"text":"x","metadata":{"doc_type":3}})", "doc_type"},
      {"metadata tags", R"({"schema_version":1,"type":"document.upsert","container_id":"c","doc_id":"d","version":1,"text":"x","metadata":{"tags":["a",1]}})", "tags"},
      {"invalid utf8", "{\"schema_version\":1,\"x\":\"\xff\"}", "UTF-8"},
      // Issue 17.4: well-formed in shape but not UTF-8, as docs/events.md says: overlong
      // encodings, encoded surrogates, past U+10FFFF, a sequence cut short at the end.
      {"overlong slash", "{\"schema_version\":1,\"text\":\"\xc0\xaf\"}", "not valid UTF-8"},
      {"overlong 3 bytes", "{\"schema_version\":1,\"text\":\"\xe0\x80\xaf\"}", "not valid UTF-8"},
      {"overlong 4 bytes", "{\"schema_version\":1,\"text\":\"\xf0\x80\x80\xaf\"}", "not valid UTF-8"},
      {"high surrogate", "{\"schema_version\":1,\"text\":\"\xed\xa0\x80\"}", "not valid UTF-8"},
      {"low surrogate", "{\"schema_version\":1,\"text\":\"\xed\xbf\xbf\"}", "not valid UTF-8"},
      {"past U+10FFFF", "{\"schema_version\":1,\"text\":\"\xf4\x90\x80\x80\"}", "not valid UTF-8"},
      {"cut short", "{\"schema_version\":1,\"text\":\"\xed\x95", "not valid UTF-8"},
  };
  for (const BadCase& c : cases) {
    auto e = Decode(c.json);
    ASSERT_FALSE(e.ok()) << c.name;
    EXPECT_EQ(e.status().code(), Status::Code::kInvalidArgument) << c.name;
    EXPECT_NE(e.status().message().find(c.says), std::string::npos) << c.name << ": " << e.status().message();
  }
}

TEST(EventTest, AcceptsEveryWellFormedUtf8Boundary) {
  // The edges of each encoding length, Hangul and a supplementary-plane emoji.
  const std::string text = "\x7f \xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbd "
                           "\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf 한국어 😀";
  nlohmann::json j = {{"schema_version", 1}, {"type", "document.upsert"}, {"container_id", "c"},
                      {"doc_id", "d"},       {"version", 1},               {"text", text}};
  auto e = Decode(j.dump());
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(*e->text, text);
}

TEST(EventTest, EnforcesSizeLimitsAndKeyConsistency) {
  DecodeLimits limits;
  limits.max_text_bytes = 10;
  auto big = DecodeEvent(std::nullopt,
                         std::string(R"({"schema_version":1,"type":"document.upsert","container_id":"c","doc_id":"d","version":1,"text":"01234567890"})"),
                         limits);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("limit"), std::string::npos);
  auto wrong_key = Decode(R"({"schema_version":1,"type":"document.delete","container_id":"c","doc_id":"d","version":1})", "c/other");
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_NE(wrong_key.status().message().find("key"), std::string::npos);
}

// Issue 15: an event's partition is Kafka's murmur2 partitioner (the Java client's) applied to
// its container id, so any producer can place it. The hashes are Kafka's own test vectors
// (UtilsTest.testMurmur2: Utils.murmur2 of these strings); the partition is
// toPositive(hash) % partitions, as the Java producer computes it for a key.
TEST(EventTest, PartitionOfHashesTheContainerIdAsJavasDefaultPartitioner) {
  const std::vector<std::pair<std::string, std::int32_t>> java = {
      {"21", -973932308}, {"foobar", -790332482}, {"a-little-bit-long-string", -985981536}, {"abc", 479470107}};
  for (std::int32_t partitions : {1, 3, 12, 100}) {
    for (const auto& [id, hash] : java) {
      const auto expected = static_cast<std::int32_t>((static_cast<std::uint32_t>(hash) & 0x7fffffffU) %
                                                      static_cast<std::uint32_t>(partitions));
      EXPECT_EQ(PartitionOf(id, partitions), expected) << id;                     // a container key
      EXPECT_EQ(PartitionOf(EventKey(id, "doc-9"), partitions), expected) << id;  // its documents
    }
  }
  // An ACL key is hashed whole, not by a container.
  EXPECT_EQ(PartitionKeyOf("acl:kim"), "acl:kim");
  EXPECT_EQ(PartitionKeyOf("hr/a/b"), "hr");
  Event acl;
  acl.type = EventType::kAclUpsert;
  acl.principal = "kim";
  EXPECT_EQ(PlacementKey(acl), "acl:kim");
  Event doc;
  doc.container_id = "hr";
  doc.doc_id = "x";
  EXPECT_EQ(PlacementKey(doc), "hr");
}

}  // namespace
}  // namespace tide::ingest
