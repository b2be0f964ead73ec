#include "ingest/chunker.h"

#include <gtest/gtest.h>

#include "common/utf8.h"

namespace tide::ingest {
namespace {

// The code point slice [b, e) of s.
std::string Slice(std::string_view s, std::size_t b, std::size_t e) {
  std::string out;
  std::size_t cp = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool start = !utf8::IsContinuation(s[i]);
    if (start && i > 0) ++cp;
    if (cp >= b && cp < e) out += s[i];
  }
  return out;
}

TEST(ChunkerTest, ShortTextIsOneChunkWithExactOffsets) {
  const std::string text = "피벗 테이블을 만드는 방법입니다.";
  auto chunks = ChunkText(text, {});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, text);
  EXPECT_EQ(chunks[0].char_begin, 0u);
  EXPECT_EQ(chunks[0].char_end, utf8::CodePoints(text));
  EXPECT_EQ(chunks[0].heading, "");
}

TEST(ChunkerTest, HeadingsBecomeThePathAndAreNotChunkText) {
  const std::string text = "# 스프레드시트\n\n소개 문단.\n\n## 피벗 테이블\n\n피벗 테이블 설명.\n\n# 매크로\n\n매크로 설명.";
  auto chunks = ChunkText(text, {});
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].heading, "스프레드시트");
  EXPECT_EQ(chunks[0].text, "소개 문단.");
  EXPECT_EQ(chunks[1].heading, "스프레드시트 > 피벗 테이블");
  EXPECT_EQ(chunks[1].text, "피벗 테이블 설명.");
  EXPECT_EQ(chunks[2].heading, "매크로");
  for (const TextChunk& c : chunks) EXPECT_EQ(Slice(text, c.char_begin, c.char_end), c.text);
}

TEST(ChunkerTest, LongTextSplitsAtSentencesWithinTheLimitAndOverlaps) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "문장 번호 " + std::to_string(i) + "에서 셀 서식을 바꿉니다. ";
  ChunkerOptions o;
  o.max_chars = 120;
  o.overlap_chars = 40;
  auto chunks = ChunkText(text, o);
  ASSERT_GT(chunks.size(), 5u);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_LE(utf8::CodePoints(chunks[i].text), 120u);
    EXPECT_EQ(Slice(text, chunks[i].char_begin, chunks[i].char_end), chunks[i].text);
    EXPECT_EQ(chunks[i].text.back(), '.') << "chunk " << i << " does not end at a sentence";
    if (i > 0) {
      EXPECT_LT(chunks[i].char_begin, chunks[i - 1].char_end) << "no overlap at " << i;
      EXPECT_GT(chunks[i].char_begin, chunks[i - 1].char_begin);
    }
  }
  EXPECT_EQ(chunks.back().char_end, utf8::CodePoints(text) - 1);  // the trailing space is trimmed
}

TEST(ChunkerTest, AWordLongerThanTheLimitIsCut) {
  std::string text(1000, 'x');
  ChunkerOptions o;
  o.max_chars = 100;
  auto chunks = ChunkText(text, o);
  ASSERT_EQ(chunks.size(), 10u);
  for (const TextChunk& c : chunks) EXPECT_EQ(c.text.size(), 100u);
}

TEST(ChunkerTest, EmptyAndBlankTextGiveNoChunks) {
  EXPECT_TRUE(ChunkText("", {}).empty());
  EXPECT_TRUE(ChunkText(" \n\n  \n", {}).empty());
  EXPECT_TRUE(ChunkText("# 제목만\n", {}).empty());
}

}  // namespace
}  // namespace tide::ingest
