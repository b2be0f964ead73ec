#include "ingest/ctl/html_document.h"

#include <gumbo.h>
#include <unicode/utf8.h>

namespace tide::ctl {
namespace {

std::string_view TagName(const GumboNode* node) {
  const GumboElement& e = node->v.element;
  if (e.tag != GUMBO_TAG_UNKNOWN) return gumbo_normalized_tagname(e.tag);
  // An unknown tag keeps the name it was written with ("<foo-bar ...>"), lower-cased by the
  // tokenizer only in its normalized form: take it from the original text.
  GumboStringPiece name = e.original_tag;
  gumbo_tag_from_original_text(&name);
  return std::string_view(name.data, name.length);
}

void WalkNode(const GumboNode* node, HtmlVisitor& visitor) {
  switch (node->type) {
    case GUMBO_NODE_TEXT:
    case GUMBO_NODE_WHITESPACE:
    case GUMBO_NODE_CDATA:
      visitor.Text(node->v.text.text);
      return;
    case GUMBO_NODE_ELEMENT:
    case GUMBO_NODE_TEMPLATE: {
      const HtmlElement element(node);
      if (!visitor.Enter(element)) return;
      const GumboVector& children = node->v.element.children;
      for (unsigned int i = 0; i < children.length; ++i) {
        WalkNode(static_cast<const GumboNode*>(children.data[i]), visitor);
      }
      visitor.Leave(element);
      return;
    }
    case GUMBO_NODE_DOCUMENT:
    case GUMBO_NODE_COMMENT:
      return;
  }
}

}  // namespace

HtmlElement::HtmlElement(const GumboNode* node) : node_(node), tag_(TagName(node)) {}

std::optional<std::string_view> HtmlElement::Attribute(std::string_view name) const {
  const GumboVector& attributes = node_->v.element.attributes;
  for (unsigned int i = 0; i < attributes.length; ++i) {
    const auto* a = static_cast<const GumboAttribute*>(attributes.data[i]);
    if (name == a->name) return std::string_view(a->value);
  }
  return std::nullopt;
}

HtmlDocument::HtmlDocument(std::string_view html)
    : html_(html), output_(gumbo_parse_with_options(&kGumboDefaultOptions, html_.data(), html_.size())) {}

HtmlDocument::~HtmlDocument() { gumbo_destroy_output(&kGumboDefaultOptions, output_); }

void HtmlDocument::Walk(HtmlVisitor& visitor) const { WalkNode(output_->root, visitor); }

std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  const auto length = static_cast<int32_t>(text.size());
  int32_t i = 0;
  while (i < length) {
    const int32_t start = i;
    UChar32 c;
    U8_NEXT(bytes, i, length, c);
    if (c < 0) {
      out.append("\xEF\xBF\xBD");
    } else {
      out.append(text.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(i - start)));
    }
  }
  return out;
}

}  // namespace tide::ctl
