#include "common/embedding/hash_embedder.h"

#include <unicode/utf8.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "common/analysis/normalizer.h"

namespace tide::embedding {
namespace {

// Part of the hash input, so a syllable "서" and a one-syllable word "서" are different
// features. The stem deliberately shares kWord with whole words: "서울에서" (stem 서울) and
// "서울" must meet in the same bucket. Changing any value here changes every vector, which
// requires a new model_id.
enum class FeatureKind : std::uint8_t { kWord = 1, kUnigram = 2, kBigram = 3, kTrigram = 4 };

constexpr float kWordWeight = 1.0f;
constexpr float kUnigramWeight = 0.3f;
constexpr float kBigramWeight = 0.7f;
constexpr float kTrigramWeight = 0.5f;

// FNV-1a 64 over the kind byte and the UTF-8 bytes, then MurmurHash3's fmix64: FNV-1a alone
// leaves the low bits (which pick the bucket) poorly mixed for short inputs.
std::uint64_t HashFeature(FeatureKind kind, std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto add_byte = [&h](std::uint8_t byte) {
    h ^= byte;
    h *= 0x100000001b3ULL;
  };
  add_byte(static_cast<std::uint8_t>(kind));
  for (char c : text) add_byte(static_cast<std::uint8_t>(c));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

struct Feature {
  std::uint64_t hash;
  float weight;
};

// One view per code point (text comes from the normalizer, so it is valid UTF-8).
std::vector<std::string_view> CodePoints(std::string_view text) {
  std::vector<std::string_view> out;
  const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
  const auto length = static_cast<std::int32_t>(text.size());
  std::int32_t i = 0;
  while (i < length) {
    const std::int32_t start = i;
    U8_FWD_1(s, i, length);
    out.push_back(text.substr(start, i - start));
  }
  return out;
}

// Windows of `n` adjacent code points; the views are adjacent in one string, so each
// window is one contiguous range.
void AddNgrams(const std::vector<std::string_view>& chars, std::size_t n, FeatureKind kind,
               float weight, std::vector<Feature>* features) {
  for (std::size_t k = 0; k + n <= chars.size(); ++k) {
    const char* first = chars[k].data();
    const char* last = chars[k + n - 1].data() + chars[k + n - 1].size();
    features->push_back(
        {HashFeature(kind, std::string_view(first, static_cast<std::size_t>(last - first))),
         weight});
  }
}

}  // namespace

HashEmbedder::HashEmbedder() : HashEmbedder(Options{}) {}

HashEmbedder::HashEmbedder(Options options)
    : dimension_(options.dimension), model_id_("hash-v1-d" + std::to_string(options.dimension)) {
  assert(dimension_ > 0);
}

Status HashEmbedder::Embed(const std::vector<std::string>& texts, InputType /*type*/, std::vector<float>* out) {
  assert(out != nullptr);
  if (dimension_ <= 0) {
    return Status::InvalidArgument("hash embedder dimension must be positive, got " +
                                   std::to_string(dimension_));
  }
  out->reserve(out->size() + texts.size() * static_cast<std::size_t>(dimension_));
  for (const std::string& text : texts) EmbedOne(text, out);
  return Status();
}

void HashEmbedder::EmbedOne(const std::string& text, std::vector<float>* out) const {
  const std::string normalized = analysis::Normalize(text);
  std::vector<Feature> features;
  for (const analysis::Word& word : analyzer_.Words(normalized)) {
    features.push_back({HashFeature(FeatureKind::kWord, word.text), kWordWeight});
    switch (word.script) {
      case analysis::Script::kHangul:
      case analysis::Script::kHan: {
        if (word.script == analysis::Script::kHangul) {
          const std::string_view stem = analyzer_.StripParticle(word.text);
          if (stem.size() != word.text.size()) {
            features.push_back({HashFeature(FeatureKind::kWord, stem), kWordWeight});
          }
        }
        const std::vector<std::string_view> chars = CodePoints(word.text);
        AddNgrams(chars, 1, FeatureKind::kUnigram, kUnigramWeight, &features);
        AddNgrams(chars, 2, FeatureKind::kBigram, kBigramWeight, &features);
        break;
      }
      case analysis::Script::kLatin:
      case analysis::Script::kOther: {
        const std::string bounded = "<" + word.text + ">";
        AddNgrams(CodePoints(bounded), 3, FeatureKind::kTrigram, kTrigramWeight, &features);
        break;
      }
      case analysis::Script::kDigit:
        break;
    }
  }

  // Equal hashes are the same feature (a 64-bit collision between different features is
  // negligible), so after sorting each run's length is its term frequency.
  std::sort(features.begin(), features.end(),
            [](const Feature& a, const Feature& b) { return a.hash < b.hash; });
  const auto dim = static_cast<std::uint64_t>(dimension_);
  std::vector<double> sums(dim, 0.0);
  for (std::size_t k = 0; k < features.size();) {
    std::size_t run_end = k + 1;
    while (run_end < features.size() && features[run_end].hash == features[k].hash) ++run_end;
    const double tf = static_cast<double>(run_end - k);
    const double value = features[k].weight * (1.0 + std::log(tf));
    const std::uint64_t h = features[k].hash;
    // The top bit picks the sign, the low bits (via %) the bucket: independent after fmix64.
    sums[h % dim] += (h >> 63) != 0 ? -value : value;
    k = run_end;
  }

  double norm = 0.0;
  for (double v : sums) norm += v * v;
  norm = std::sqrt(norm);
  for (double v : sums) out->push_back(norm > 0.0 ? static_cast<float>(v / norm) : 0.0f);
}

}  // namespace tide::embedding
