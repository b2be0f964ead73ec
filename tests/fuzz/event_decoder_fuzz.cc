// libFuzzer target: the worker's event decoder and chunker, on bytes as a Kafka message would
// bring them. The first byte picks the message key (none, a valid one, the rest of the input
// split at the first newline) and whether the value is a tombstone.
//
// Checks besides the sanitizers: a rejected event says why; an accepted one holds only valid
// UTF-8 ids and text within the limits, and the chunks of its text are exact slices of it.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "common/utf8.h"
#include "ingest/chunker.h"
#include "ingest/event.h"

namespace {

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "event_decoder_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  using namespace tide::ingest;
  const std::uint8_t mode = data[0];
  std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::optional<std::string> key;
  std::optional<std::string> value = rest;
  switch (mode % 4) {
    case 0: key = std::nullopt; break;
    case 1: key = EventKey("hr", "leave-1"); break;
    case 2: {
      const std::size_t newline = rest.find('\n');
      key = rest.substr(0, newline);
      value = newline == std::string::npos ? std::string() : rest.substr(newline + 1);
      break;
    }
    case 3: key = rest; value = std::nullopt; break;  // a tombstone keyed by the input
  }
  DecodeLimits limits;
  limits.max_event_bytes = 64 << 10;
  limits.max_text_bytes = 32 << 10;
  limits.max_chunks = 64;
  limits.max_title_bytes = 256;
  tide::Result<Event> event = DecodeEvent(key, value, limits);
  if (!event.ok()) {
    Check(!event.status().message().empty(), "a rejection without a reason");
    return 0;
  }
  Check(tide::utf8::IsValid(event->container_id) && tide::utf8::IsValid(event->doc_id), "ids not UTF-8");
  Check(tide::utf8::IsValid(event->title) && event->title.size() <= limits.max_title_bytes, "bad title");
  Check(event->chunks.size() <= limits.max_chunks, "too many chunks");
  if (event->text) {
    Check(tide::utf8::IsValid(*event->text) && event->text->size() <= limits.max_text_bytes, "bad text");
    for (const TextChunk& chunk : ChunkText(*event->text, ChunkerOptions{64, 16})) {
      Check(chunk.char_begin <= chunk.char_end, "a chunk ends before it begins");
      Check(tide::utf8::IsValid(chunk.text), "a chunk is not UTF-8");
      Check(event->text->find(chunk.text) != std::string::npos, "a chunk is not a slice of the text");
    }
  }
  return 0;
}
