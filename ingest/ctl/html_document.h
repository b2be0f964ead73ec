#pragma once

// An HTML document parsed the way browsers parse it, by Gumbo (Google's HTML5 parser; Debian's
// libgumbo-dev): implicit end tags, misnested and unclosed markup, character references,
// comments and raw-text elements all as the HTML5 specification says.

#include <optional>
#include <string>
#include <string_view>

struct GumboInternalNode;
struct GumboInternalOutput;

namespace tide::ctl {

// One element met by a walk. Valid only during the callback.
class HtmlElement {
 public:
  explicit HtmlElement(const GumboInternalNode* node);
  // Lower-case tag name ("p", "h2"; an unknown tag by its own name).
  std::string_view tag() const { return tag_; }
  // The value of `name` (lower case), "" for a bare attribute ("hidden"), nullopt if absent.
  std::optional<std::string_view> Attribute(std::string_view name) const;

 private:
  const GumboInternalNode* node_;
  std::string_view tag_;
};

// What a walk reports, in document order.
class HtmlVisitor {
 public:
  virtual ~HtmlVisitor() = default;
  // An element starts; false skips its subtree (and then Leave is not called for it).
  virtual bool Enter(const HtmlElement& element) = 0;
  virtual void Leave(const HtmlElement& element) = 0;
  // Text, character references decoded (whitespace-only runs too, comments never).
  virtual void Text(std::string_view text) = 0;
};

class HtmlDocument {
 public:
  // Never fails: any input is some document. `html` must be UTF-8 (see SanitizeUtf8); it is
  // copied, so it need not outlive the document.
  explicit HtmlDocument(std::string_view html);
  ~HtmlDocument();
  HtmlDocument(const HtmlDocument&) = delete;
  HtmlDocument& operator=(const HtmlDocument&) = delete;

  // Visits every element and text node below the root <html>, depth first.
  void Walk(HtmlVisitor& visitor) const;

 private:
  std::string html_;  // Gumbo's tree points into it
  GumboInternalOutput* output_;
};

// Returns `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view text);

}  // namespace tide::ctl
