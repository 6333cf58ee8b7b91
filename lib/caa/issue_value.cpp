// Parser for issue/issuewild values: the RFC 8659 §4.2 grammar (see the header),
// written as a single left-to-right scan so that every error can say at which
// character the value stops matching the grammar.
#include "lib/caa/issue_value.h"

#include <cstddef>

#include "lib/util/text.h"

namespace caad::caa {
namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
// parameter-value characters: printable ASCII except space and ';'.
bool is_value_char(char c) { return c >= 0x21 && c <= 0x7e && c != ';'; }

// Describes one character for an error message, so that control characters
// and non-ASCII octets are visible.
std::string describe(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u <= 0x7e) return std::string("'") + c + "'";
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string s = "octet 0x";
  s += k_hex[u >> 4];
  s += k_hex[u & 0xf];
  return s;
}

// A label: (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT) ), i.e. letters, digits
// and hyphens that neither start nor end it.
bool is_label(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '-') return false;
  }
  return true;
}

class Scanner {
 public:
  explicit Scanner(std::string_view text) : m_text(text) {}

  bool done() const { return m_pos >= m_text.size(); }
  char peek() const { return m_text[m_pos]; }
  std::size_t pos() const { return m_pos; }
  void skip_wsp() {
    while (!done() && is_wsp(peek())) ++m_pos;
  }
  // Takes characters while pred holds.
  template <class Pred>
  std::string_view take_while(Pred pred) {
    std::size_t start = m_pos;
    while (!done() && pred(peek())) ++m_pos;
    return m_text.substr(start, m_pos - start);
  }
  void advance() { ++m_pos; }

  Unexpected<Error> error(std::string_view what) const {
    std::string msg = "issue value " + text::quote(m_text) + ": ";
    msg += what;
    if (!done()) {
      msg += " at position " + std::to_string(m_pos + 1) + " (" + describe(peek()) + ")";
    } else {
      msg += " at the end";
    }
    return fail(std::move(msg));
  }

 private:
  std::string_view m_text;
  std::size_t m_pos = 0;
};

bool is_domain_char(char c) { return is_alnum(c) || c == '-' || c == '.'; }
bool is_tag_char(char c) { return is_alnum(c) || c == '-'; }

Result<std::string> parse_issuer(Scanner& s) {
  std::string_view issuer = s.take_while(is_domain_char);
  if (issuer.empty()) return std::string();
  if (!s.done() && !is_wsp(s.peek()) && s.peek() != ';') {
    return s.error("issuer domain has a character that is not a letter, digit, hyphen or dot");
  }
  if (issuer.back() == '.') {
    return s.error("issuer domain \"" + std::string(issuer) +
                   "\" ends with a dot, which the grammar does not allow");
  }
  std::size_t start = 0;
  while (start <= issuer.size()) {
    std::size_t dot = issuer.find('.', start);
    if (dot == std::string_view::npos) dot = issuer.size();
    std::string_view label = issuer.substr(start, dot - start);
    if (!is_label(label)) {
      return s.error("issuer domain \"" + std::string(issuer) + "\" has an invalid label \"" +
                     std::string(label) + "\"");
    }
    start = dot + 1;
  }
  return std::string(issuer);
}

}  // namespace

Result<IssueValue> parse_issue_value(std::string_view value) {
  Scanner s(value);
  IssueValue out;

  s.skip_wsp();
  auto issuer = parse_issuer(s);
  if (!issuer) return Unexpected<Error>{issuer.error()};
  out.issuer = std::move(*issuer);
  s.skip_wsp();
  if (s.done()) return out;
  if (s.peek() != ';') {
    return s.error(out.issuer.empty() ? "expected an issuer domain or ';'"
                                      : "expected ';' after the issuer domain");
  }
  s.advance();
  s.skip_wsp();
  if (s.done()) return out;  // "ca.example;" has an empty parameter list

  while (true) {
    std::string_view tag = s.take_while(is_tag_char);
    if (tag.empty()) return s.error("expected a parameter tag");
    if (!is_label(tag)) {
      return s.error("parameter tag \"" + std::string(tag) +
                     "\" must start and end with a letter or digit");
    }
    s.skip_wsp();
    if (s.done() || s.peek() != '=') {
      return s.error("expected '=' after parameter tag \"" + std::string(tag) + "\"");
    }
    s.advance();
    s.skip_wsp();
    std::string_view val = s.take_while(is_value_char);
    out.parameters.push_back(Parameter{std::string(tag), std::string(val)});
    s.skip_wsp();
    if (s.done()) return out;
    if (s.peek() != ';') {
      return s.error("expected ';' or the end after the value of parameter \"" + std::string(tag) +
                     "\"");
    }
    s.advance();
    s.skip_wsp();
    // RFC 8659 does not allow a trailing ';' after a parameter.
    if (s.done()) return s.error("expected a parameter after ';'");
  }
}

std::optional<std::vector<std::string>> parse_validation_methods(std::string_view value) {
  std::vector<std::string> methods;
  if (value.empty()) return methods;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = value.find(',', start);
    std::string_view label =
        value.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (!is_label(label)) return std::nullopt;
    methods.emplace_back(label);
    if (comma == std::string_view::npos) return methods;
    start = comma + 1;
  }
}

}  // namespace caad::caa
