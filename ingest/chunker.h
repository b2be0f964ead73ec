#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tide::ingest {

struct ChunkerOptions {
  std::size_t max_chars = 500;     // code points per chunk, at most (a longer word is cut)
  std::size_t overlap_chars = 50;  // trailing sentences of a chunk repeated at the next one's start
};

struct TextChunk {
  std::string text;         // an exact slice of the document text
  std::string heading;      // markdown heading path at the chunk's start, " > " separated
  std::uint32_t char_begin; // code point offsets of `text` in the document
  std::uint32_t char_end;
};

// Splits a document recursively: sections at markdown headings ("# ..."), then paragraphs
// (blank lines), then sentences (". ", "? ", "! ", "다. ", "요. ", "。"), then characters
// (at a space where one is near). Pieces are packed greedily up to max_chars, never across
// a section; consecutive chunks of a section share up to overlap_chars of whole sentences.
// Heading lines are not chunk text: they are the chunks' `heading`.
std::vector<TextChunk> ChunkText(std::string_view text, const ChunkerOptions& options);

}  // namespace tide::ingest
