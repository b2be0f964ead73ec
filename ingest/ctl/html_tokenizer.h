#pragma once

// HTML lexing: a tolerant tokenizer plus the character-reference and UTF-8 helpers it uses.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tide::ctl {

// One lexical unit of an HTML document. Tag and attribute names are lower-cased; text and
// attribute values have their character references decoded.
struct HtmlToken {
  enum class Kind { kText, kStartTag, kEndTag };

  Kind kind = Kind::kText;
  std::string name;  // tag name; empty for text
  std::string text;  // kText only
  std::vector<std::pair<std::string, std::string>> attributes;
  bool self_closing = false;  // "<br/>"

  // The value of attribute `attribute`, or nullptr if the tag has none.
  const std::string* Attribute(std::string_view attribute) const;
};

// Splits HTML into tokens without building a tree; callers track nesting. It never fails:
// malformed markup degrades to text or is dropped, the way browsers tolerate it.
//  - Comments, <!DOCTYPE> and <?...?> produce no token.
//  - <script> and <style> bodies are skipped (their start and end tags are still reported).
//  - <title> and <textarea> bodies are one text token, markup inside them is not parsed.
//  - A '<' that cannot start a tag ("a < b") is text.
// `html` must outlive the tokenizer. Not thread-safe; cheap to create one per document.
class HtmlTokenizer {
 public:
  explicit HtmlTokenizer(std::string_view html) : html_(html) {}

  // Overwrites `token` with the next token. Returns false at the end of input.
  bool Next(HtmlToken* token);

 private:
  bool ReadRawText(HtmlToken* token);
  bool ReadMarkup(HtmlToken* token);  // at '<'; false if it produced no token
  void ReadAttributes(HtmlToken* token);

  std::string_view html_;
  std::size_t pos_ = 0;
  std::string raw_text_tag_;  // set after <script>, <style>, <title>, <textarea>
};

// Decodes character references: the common named ones (&amp; &lt; &nbsp; ...) and numeric
// ones (&#44032; &#xAC00;). Unknown or malformed references are kept literally; code points
// that are not Unicode scalar values become U+FFFD.
std::string DecodeHtmlEntities(std::string_view text);

// Returns `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view text);

// Appends the UTF-8 encoding of `code_point`, or U+FFFD if it is not a scalar value.
void AppendUtf8(char32_t code_point, std::string* out);

}  // namespace tide::ctl
