// Parsing, canonicalisation and label arithmetic for caad::dns::Name.
//
// Almost every name caad sees is plain ASCII, and parse() runs on millions of
// them during an import, so the ASCII path does its own LDH checks in one pass
// and never calls libidn2. libidn2 is used only where IDNA needs it: to turn a
// label with non-ASCII bytes into an A-label (UTS #46 non-transitional
// processing, IDNA2008 rules), and to prove that an "xn--" label is a real
// A-label by decoding it and encoding the result again. A label that does not
// survive that round trip is rejected, because a bogus A-label would make
// display() show people something other than what the DNS holds.
//
// Names built by from_dns() come from ldns presentation text, where a byte
// that is not printable, or a dot inside a label, is escaped ("\046", "\.").
// The helpers that split a name into labels therefore skip escaped
// characters; names from parse() never hold a backslash, so for them this
// costs nothing.
#include "lib/dns/name.h"

#include <idn2.h>

#include <cstdio>
#include <memory>
#include <utility>

#include "lib/util/text.h"

namespace caad::dns {
namespace {

using text::ascii_lower;
using text::code_point_name;
using text::describe_char;
using text::hex_byte;
using text::quote;
using text::utf8_sequence_at;

constexpr std::size_t k_max_label_octets = 63;
// 255 octets on the wire are 253 in text without the trailing dot.
constexpr std::size_t k_max_name_octets = 253;
// UTS #46 non-transitional processing keeps "ß" and "ς" as they are (IDNA2008)
// instead of mapping them to "ss" and "σ" (IDNA2003), which is what browsers
// and CAs do today. NFC_INPUT normalises input that arrives decomposed.
constexpr int k_to_ascii_flags = IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT;
constexpr std::string_view k_ace_prefix = "xn--";

// Owns a string that libidn2 allocated.
struct Idn2Deleter {
  void operator()(char* p) const { idn2_free(p); }
};
using Idn2String = std::unique_ptr<char, Idn2Deleter>;


bool is_ascii_digit(char c) {
  return c >= '0' && c <= '9';
}

// Letters, digits and hyphen, on a lower-cased character.
bool is_ldh(char c) {
  return (c >= 'a' && c <= 'z') || is_ascii_digit(c) || c == '-';
}

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}








// What is wrong with an ASCII character outside letters, digits and hyphen,
// with a hint for the mistakes people make most.
std::string bad_character_problem(char c) {
  std::string problem =
      "has a character that is not a letter, digit or hyphen (" + describe_char(c);
  if (c == '_') problem += "; certificates cannot carry underscores";
  if (c == ':' || c == '/') problem += "; a URL or port does not belong in a domain name";
  return problem + ")";
}

// The length of a space-like character at `pos` that people paste along with
// names (no-break space, the Unicode spaces, zero-width space, a byte-order
// mark), or 0. libidn2 would only say "A-label roundtrip failed" for these.
std::size_t unicode_space_at(std::string_view text, std::size_t pos, char32_t& cp) {
  const std::size_t length = utf8_sequence_at(text, pos, cp);
  if (length < 2) return 0;
  const bool space = cp == 0x00A0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200B) ||
                     cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 ||
                     cp == 0xFEFF;
  return space ? length : 0;
}

// Whether text starts or ends with whitespace, ASCII or Unicode.
bool starts_with_space(std::string_view text) {
  char32_t cp = 0;
  return !text.empty() && (is_ascii_space(text.front()) || unicode_space_at(text, 0, cp) > 0);
}

bool ends_with_space(std::string_view text) {
  if (text.empty()) return false;
  if (is_ascii_space(text.back())) return true;
  // Unicode spaces are two or three octets long; try each start.
  for (std::size_t back = 2; back <= 3 && back <= text.size(); ++back) {
    char32_t cp = 0;
    if (unicode_space_at(text, text.size() - back, cp) == back) return true;
  }
  return false;
}

// Says what libidn2 found wrong with a label it would not convert, in words a
// person can act on. `label` is the U-label as given.
std::string describe_idn2_failure(int rc, std::string_view label) {
  switch (rc) {
    case IDN2_DISALLOWED:
    case IDN2_UNASSIGNED: {
      // Find the code point to name: the first one libidn2 refuses on its own.
      std::size_t pos = 0;
      while (pos < label.size()) {
        char32_t cp = 0;
        const std::size_t length = utf8_sequence_at(label, pos, cp);
        if (length == 0) break;
        if (length > 1) {
          const std::string one(label.substr(pos, length));
          char* raw = nullptr;
          const int one_rc = idn2_to_ascii_8z(one.c_str(), &raw, k_to_ascii_flags);
          Idn2String owned(raw);
          if (one_rc == IDN2_DISALLOWED || one_rc == IDN2_UNASSIGNED) {
            return std::string(one_rc == IDN2_DISALLOWED
                                   ? "has a character that IDNA2008 does not allow in domain "
                                     "names ("
                                   : "has a code point that is not assigned in Unicode (") +
                   code_point_name(cp) + " " + quote(one) + ")";
          }
        }
        pos += length;
      }
      return rc == IDN2_DISALLOWED ? "has a character that IDNA2008 does not allow in domain names"
                                   : "has a code point that is not assigned in Unicode";
    }
    case IDN2_HYPHEN_STARTEND:
      return "starts or ends with a hyphen";
    case IDN2_2HYPHEN:
      return "has \"--\" as its third and fourth characters, which only A-labels (\"xn--\") "
             "may have";
    case IDN2_LEADING_COMBINING:
      return "starts with a combining mark";
    case IDN2_CONTEXTJ:
    case IDN2_CONTEXTJ_NO_RULE:
      return "has a zero-width joiner or non-joiner where IDNA2008 does not allow one";
    case IDN2_CONTEXTO:
    case IDN2_CONTEXTO_NO_RULE:
      return "has a character that IDNA2008 allows only next to certain other characters";
    case IDN2_BIDI:
      return "mixes right-to-left and left-to-right text in a way IDNA2008 forbids";
    case IDN2_NOT_NFC:
    case IDN2_NFC:
      return "is not in Unicode normalisation form C";
    case IDN2_PUNYCODE_BIG_OUTPUT:
    case IDN2_PUNYCODE_OVERFLOW:
    case IDN2_TOO_BIG_LABEL:
      return "is longer than 63 octets once converted to an A-label";
    case IDN2_ENCODING_ERROR:
      return "is not valid UTF-8";
    default:
      return std::string("is not a valid internationalised label (libidn2: ") + idn2_strerror(rc) +
             ")";
  }
}

// Converts one label with non-ASCII characters to ASCII with libidn2. The
// result is usually one A-label, but UTS #46 maps some characters (the
// ideographic full stop "。") to a dot, so it may hold several labels.
// On failure the error holds the problem, without the input.
Result<std::string> u_label_to_ascii(std::string_view label) {
  const std::string z(label);
  char* raw = nullptr;
  const int rc = idn2_to_ascii_8z(z.c_str(), &raw, k_to_ascii_flags);
  Idn2String owned(raw);
  if (rc != IDN2_OK) return fail(describe_idn2_failure(rc, label));
  return std::string(owned.get());
}

// Decodes a lower-case "xn--" label and proves it is a real A-label: its
// Punycode decodes, the result is not plain ASCII, and encoding the result
// under the same rules gives back the very same label. Returns the U-label,
// or the problem (without the input) on failure.
Result<std::string> decode_a_label(std::string_view a_label) {
  const std::string z(a_label);
  char* raw = nullptr;
  const int rc = idn2_to_unicode_8z8z(z.c_str(), &raw, 0);
  Idn2String decoded(raw);
  if (rc != IDN2_OK) {
    return fail(std::string("is not a valid A-label: its Punycode does not decode (libidn2: ") +
                idn2_strerror(rc) + ")");
  }
  const std::string_view u_label(decoded.get());
  if (is_ascii(u_label)) {
    return fail("is not a valid A-label: it decodes to " + quote(u_label) +
                ", which has no non-ASCII character");
  }
  auto encoded = u_label_to_ascii(u_label);
  if (!encoded) {
    return fail("is not a valid A-label: it decodes to " + quote(u_label) + ", which " +
                encoded.error().message);
  }
  if (*encoded != a_label) {
    return fail("is not a valid A-label: it decodes to " + quote(u_label) + ", whose A-label is " +
                quote(*encoded));
  }
  return std::string(u_label);
}

// Whether the character at `pos` is escaped by a backslash, counting the run
// of backslashes before it ("\\." is a backslash label end, "\." a dot).
bool is_escaped(std::string_view text, std::size_t pos) {
  std::size_t backslashes = 0;
  while (pos > backslashes && text[pos - backslashes - 1] == '\\') ++backslashes;
  return backslashes % 2 == 1;
}

// The position of the next label separator at or after `from`: a dot that is
// not escaped in presentation format. npos when there is none.
std::size_t next_separator(std::string_view text, std::size_t from) {
  for (std::size_t i = from; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;  // The escaped character (or the first digit of \DDD) is never a separator.
    } else if (text[i] == '.') {
      return i;
    }
  }
  return std::string_view::npos;
}

// The number of octets a presentation-format name takes on the wire, less
// the root label: "\DDD" and "\X" are one octet each.
std::size_t octet_count(std::string_view text) {
  std::size_t octets = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size() && is_ascii_digit(text[i + 1]) &&
        is_ascii_digit(text[i + 2]) && is_ascii_digit(text[i + 3])) {
      i += 3;
    } else if (text[i] == '\\' && i + 1 < text.size()) {
      i += 1;
    }
    ++octets;
  }
  return octets;
}

// Where a "*" label may stand, which decides what the message about one says.
enum class WildcardContext {
  host_name,       // Name::parse: never
  domain_request,  // parse_domain, no leading "*." seen: only as the leftmost label
  after_wildcard,  // parse_domain, after a leading "*.": nowhere else
};

// Parses one name and keeps what its messages need: the whole input as the
// user gave it (for parse_domain, including a "*." prefix) and the context.
class NameParser {
 public:
  NameParser(std::string_view input, WildcardContext context)
      : m_input(input), m_context(context) {}

  // Parses `name` (the input itself, or what follows "*.") into canonical text.
  Result<std::string> parse(std::string_view name) const {
    if (m_input.empty()) return reject("the name is empty");
    if (starts_with_space(m_input)) {
      return reject("starts with whitespace; caad does not trim names, so remove it");
    }
    if (ends_with_space(m_input)) {
      return reject("ends with whitespace; caad does not trim names, so remove it");
    }
    if (name == ".") return reject("is the DNS root, not a domain name");
    if (looks_like_ipv6(m_input)) return reject("is an IPv6 address, not a domain name");
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty()) return reject("the name is empty");

    const bool ascii = is_ascii(name);
    std::string out;
    out.reserve(name.size());
    std::size_t label_index = 0;
    std::size_t start = 0;
    while (true) {
      const std::size_t dot = name.find('.', start);
      const std::string_view label =
          name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
      if (label.empty()) {
        // Only the input's own first label is "a leading dot"; after "*." it is "..".
        const bool leading = start == 0 && name.data() == m_input.data();
        return reject(leading ? "starts with a dot" : "has an empty label (\"..\")");
      }
      if (label.find('*') != std::string_view::npos) {
        return reject(wildcard_problem(label, label_index));
      }
      if (!out.empty()) out += '.';
      Status appended = (ascii || is_ascii(label)) ? append_ascii_label(label, label, out)
                                                   : append_u_label(label, out);
      if (!appended) return fail(appended.error().message);
      ++label_index;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }

    if (out.size() > k_max_name_octets) {
      return reject("is " + std::to_string(out.size()) + " octets long" +
                    (ascii ? "" : " as A-labels") + "; the limit is 253 (255 on the wire)");
    }
    return check_top_level_label(std::move(out));
  }

 private:
  Unexpected<Error> reject(const std::string& problem) const {
    return fail(quote(m_input) + ": " + problem);
  }

  Unexpected<Error> reject_label(std::string_view label, const std::string& problem) const {
    return reject("label " + quote(label) + " " + problem);
  }

  // An IPv6 address (or a bracketed one) gets its own message; ':' alone
  // would only earn "not a letter, digit or hyphen".
  static bool looks_like_ipv6(std::string_view text) {
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
      text = text.substr(1, text.size() - 2);
    }
    if (text.find(':') == std::string_view::npos) return false;
    for (char c : text) {
      const char lower = ascii_lower(c);
      if (!(is_ascii_digit(lower) || (lower >= 'a' && lower <= 'f') || c == ':' || c == '.')) {
        return false;
      }
    }
    return true;
  }

  std::string wildcard_problem(std::string_view label, std::size_t label_index) const {
    switch (m_context) {
      case WildcardContext::host_name:
        if (label == "*") return "has a wildcard label \"*\", which a host name cannot have";
        return "label " + quote(label) +
               " has a character that is not a letter, digit or hyphen ('*')";
      case WildcardContext::domain_request:
        if (label == "*") {
          return "has a wildcard \"*\" that is not the leftmost label; only \"*.\" at the start "
                 "is allowed, as in \"*.example.com\"";
        }
        return "label " + quote(label) +
               " is not a wildcard: \"*\" must be a whole label, as in \"*.example.com\"";
      case WildcardContext::after_wildcard:
        if (label == "*" && label_index == 0) {
          return "has more than one wildcard label; only one \"*.\" at the start is allowed";
        }
        if (label == "*") {
          return "has a wildcard \"*\" that is not the leftmost label; only \"*.\" at the "
                 "start is allowed, as in \"*.example.com\"";
        }
        return "label " + quote(label) +
               " is not a wildcard: \"*\" must be a whole label, as in \"*.example.com\"";
    }
    return "has a \"*\"";
  }

  // The fast path: checks an ASCII label against the LDH rule and appends it
  // lower-cased. `typed` is the label as the user wrote it, which differs from
  // `label` when `label` came out of an IDNA conversion.
  Status append_ascii_label(std::string_view label, std::string_view typed,
                            std::string& out) const {
    // Built only for a message: this runs once per label of every name.
    auto reject_this = [&](const std::string& problem) {
      const bool converted = label.data() != typed.data() || label.size() != typed.size();
      const std::string shown =
          converted ? quote(typed) + " (as ASCII " + quote(label) + ")" : quote(typed);
      return reject("label " + shown + " " + problem);
    };
    if (label.empty()) return reject("has an empty label (\"..\")");
    if (label.size() > k_max_label_octets) {
      return reject_this("is " + std::to_string(label.size()) + " octets long; the limit is 63");
    }
    const std::size_t begin = out.size();
    for (char c : label) {
      const char lower = ascii_lower(c);
      if (!is_ldh(lower)) return reject_this(bad_character_problem(c));
      out += lower;
    }
    if (label.front() == '-') return reject_this("starts with a hyphen");
    if (label.back() == '-') return reject_this("ends with a hyphen");
    const std::string_view lowered = std::string_view(out).substr(begin);
    if (lowered.starts_with(k_ace_prefix)) {
      auto decoded = decode_a_label(lowered);
      if (!decoded) return reject_this(decoded.error().message);
    }
    return Ok{};
  }

  // The IDNA path: converts a label with non-ASCII characters to ASCII with
  // libidn2, then runs the ASCII checks on the result so both paths enforce
  // one set of rules. The checks before libidn2 exist for clearer messages.
  Status append_u_label(std::string_view label, std::string& out) const {
    if (label.front() == '-') return reject_label(label, "starts with a hyphen");
    if (label.back() == '-') return reject_label(label, "ends with a hyphen");
    std::size_t pos = 0;
    while (pos < label.size()) {
      char32_t cp = 0;
      const std::size_t length = utf8_sequence_at(label, pos, cp);
      if (length == 0) {
        return reject_label(label, "is not valid UTF-8 (byte " +
                                       hex_byte(static_cast<unsigned char>(label[pos])) +
                                       " at offset " + std::to_string(pos) + ")");
      }
      if (unicode_space_at(label, pos, cp) > 0) {
        return reject_label(label, "has a space character (" + code_point_name(cp) + ")");
      }
      if (length == 1 && !is_ldh(ascii_lower(label[pos]))) {
        return reject_label(label, bad_character_problem(label[pos]));
      }
      pos += length;
    }

    auto converted = u_label_to_ascii(label);
    if (!converted) return reject_label(label, converted.error().message);
    const std::string_view ascii = *converted;
    std::size_t start = 0;
    while (true) {
      const std::size_t dot = ascii.find('.', start);
      const std::string_view piece =
          ascii.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
      if (start > 0) out += '.';
      Status appended = append_ascii_label(piece, label, out);
      if (!appended) return appended;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    return Ok{};
  }

  // A top-level label of digits alone exists nowhere, and names like
  // "1.2.3.4" are IP addresses that a user meant as a host.
  Result<std::string> check_top_level_label(std::string out) const {
    const std::size_t last_dot = out.rfind('.');
    const std::string_view tld =
        std::string_view(out).substr(last_dot == std::string::npos ? 0 : last_dot + 1);
    for (char c : tld) {
      if (!is_ascii_digit(c)) return out;
    }
    bool all_numeric = true;
    std::size_t labels = 0;
    for (std::size_t start = 0; start <= out.size(); ++labels) {
      std::size_t end = out.find('.', start);
      if (end == std::string::npos) end = out.size();
      for (std::size_t i = start; i < end; ++i) all_numeric = all_numeric && is_ascii_digit(out[i]);
      start = end + 1;
    }
    if (all_numeric && labels == 4) return reject("is an IPv4 address, not a domain name");
    return reject("has the all-digit top-level label " + quote(tld) +
                  ", which no top-level domain has; an IP address is not a domain name");
  }

  std::string_view m_input;
  WildcardContext m_context;
};

}  // namespace

Result<Name> Name::parse(std::string_view input) {
  auto text = NameParser(input, WildcardContext::host_name).parse(input);
  if (!text) return fail(text.error().message);
  return Name(std::move(*text));
}

std::optional<Name> Name::from_dns(std::string_view text) {
  if (!text.empty() && text.back() == '.' && !is_escaped(text, text.size() - 1)) {
    text.remove_suffix(1);
  }
  if (text.empty() || octet_count(text) > k_max_name_octets) return std::nullopt;
  std::string lowered(text);
  for (char& c : lowered) c = ascii_lower(c);
  return Name(std::move(lowered));
}

std::string Name::display() const {
  if (m_text.find(k_ace_prefix) == std::string::npos) return m_text;
  std::string out;
  out.reserve(m_text.size() * 2);
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = next_separator(m_text, start);
    const std::string_view label = std::string_view(m_text).substr(
        start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.starts_with(k_ace_prefix)) {
      // A name from the DNS may hold a bogus A-label; showing its decoding
      // would show people a name that is not there, so show the A-labels.
      auto decoded = decode_a_label(label);
      if (!decoded) return m_text;
      out += *decoded;
    } else {
      out += label;
    }
    if (dot == std::string::npos) break;
    out += '.';
    start = dot + 1;
  }
  return out;
}

std::vector<std::string_view> Name::labels() const {
  std::vector<std::string_view> result;
  const std::string_view text = m_text;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = next_separator(text, start);
    if (dot == std::string_view::npos) {
      result.push_back(text.substr(start));
      return result;
    }
    result.push_back(text.substr(start, dot - start));
    start = dot + 1;
  }
}

std::size_t Name::label_count() const {
  std::size_t count = 1;
  for (std::size_t dot = next_separator(m_text, 0); dot != std::string::npos;
       dot = next_separator(m_text, dot + 1)) {
    ++count;
  }
  return count;
}

std::optional<Name> Name::parent() const {
  const std::size_t dot = next_separator(m_text, 0);
  if (dot == std::string::npos) return std::nullopt;
  return Name(m_text.substr(dot + 1));
}

bool Name::is_at_or_below(const Name& ancestor) const {
  const std::string& suffix = ancestor.m_text;
  if (m_text.size() == suffix.size()) return m_text == suffix;
  if (m_text.size() < suffix.size() + 1) return false;
  const std::size_t dot = m_text.size() - suffix.size() - 1;
  return m_text[dot] == '.' && m_text.compare(dot + 1, std::string::npos, suffix) == 0 &&
         !is_escaped(m_text, dot);
}

std::string DomainRequest::text() const {
  return wildcard ? "*." + name.text() : name.text();
}

std::string DomainRequest::display() const {
  return wildcard ? "*." + name.display() : name.display();
}

Result<DomainRequest> parse_domain(std::string_view input) {
  bool wildcard = false;
  std::string_view name = input;
  WildcardContext context = WildcardContext::domain_request;
  if (input == "*") {
    return fail(quote(input) + ": a wildcard needs a domain after it, as in \"*.example.com\"");
  }
  if (input.starts_with("*.")) {
    wildcard = true;
    name = input.substr(2);
    context = WildcardContext::after_wildcard;
    if (name.empty() || name == ".") {
      return fail(quote(input) +
                  ": a wildcard needs a domain after \"*.\", as in \"*.example.com\"");
    }
  }
  auto text = NameParser(input, context).parse(name);
  if (!text) return fail(text.error().message);
  // "*.X" is itself a name in the certificate and in DNS, so the limit
  // applies to it whole, not only to X.
  if (wildcard && text->size() + 2 > k_max_name_octets) {
    return fail(quote(input) + ": is " + std::to_string(text->size() + 2) +
                " octets long with the \"*.\"; the limit is 253 (255 on the wire)");
  }
  // Name's constructor is private to Name; from_dns() takes trusted canonical
  // text as it is, and a name parse() produced is exactly that.
  std::optional<Name> parsed = Name::from_dns(*text);
  if (!parsed) return fail(quote(input) + ": could not be stored as a name");
  return DomainRequest{std::move(*parsed), wildcard};
}

}  // namespace caad::dns
