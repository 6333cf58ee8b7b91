// CAA records in their two forms: wire RDATA and zone-file presentation text.
//
// The wire form (RFC 8659 §4.1) is a flags octet, a tag length octet, the tag,
// and then the value, which runs to the end of the RDATA. Both the wire form
// and the text form come from people we do not control, so every length is
// checked before it is used and any inconsistency rejects the whole record.
//
// The text form is what follows "CAA" on a zone-file line:
//
//   <flags> <tag> <value>     flags decimal 0-255; the tag a run of
//                             non-blank characters kept exactly as written;
//                             the value one quoted string or one unquoted word
//   \# <length> <hex...>      RFC 3597 generic form
//
// The tag is not unescaped and not checked against the letters-and-digits
// rule: a record with an odd tag still exists in DNS, a CA sees it as an
// unknown property, and judging it is the policy's job. Values take the
// RFC 1035 escapes `\X` and `\DDD`, inside or outside quotes. A `;` is not a
// comment here: the caller hands us one record's text, and `0 issue ;` is a
// record whose value is ";".
//
// presentation() must always produce text that parses back to the same
// record, including records with binary values or tags that the text form
// cannot carry. Values are therefore always quoted with every awkward octet
// escaped, and a tag that would not survive a trip through the tokenizer is
// written in the \# form instead.
#include "lib/caa/record.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/util/text.h"

namespace caad::caa {
namespace {

// A tag length is one octet, and RDLENGTH is two.
constexpr std::size_t k_max_tag_octets = 255;
constexpr std::size_t k_max_rdata_octets = 65535;
// Error messages quote untrusted input; a long one is cut so logs stay usable.
constexpr std::size_t k_max_quoted_in_error = 40;

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool is_line_end(char c) {
  return c == '\r' || c == '\n';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string octet_count(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " octet" : " octets");
}

// Appends `\DDD` for an octet, always three digits so that a following digit
// in the value cannot be read as part of the escape.
void append_decimal_escape(std::string& out, unsigned char c) {
  out += '\\';
  out += static_cast<char>('0' + c / 100);
  out += static_cast<char>('0' + (c / 10) % 10);
  out += static_cast<char>('0' + c % 10);
}

// Shows a piece of zone-file text inside an error message, in double quotes,
// with anything unprintable as \DDD so that the message stays one clean line.
// Unlike text::quote, quotes and backslashes stay as they are: in zone-file
// text they are the syntax the person wrote, and escaping them would mislead.
std::string show(std::string_view input) {
  std::string out = "\"";
  std::size_t shown = 0;
  for (char c : input) {
    if (shown == k_max_quoted_in_error) {
      out += "...";
      break;
    }
    const auto octet = static_cast<unsigned char>(c);
    if (octet < 0x20 || octet > 0x7e) {
      append_decimal_escape(out, octet);
    } else {
      out += c;
    }
    ++shown;
  }
  out += '"';
  return out;
}

// Walks the text form one character at a time. Positions never pass the end.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : m_text(text) {}

  bool at_end() const { return m_pos == m_text.size(); }
  char peek() const { return m_text[m_pos]; }
  char take() { return m_text[m_pos++]; }
  std::string_view rest() const { return m_text.substr(m_pos); }

  void skip_blanks() {
    while (!at_end() && is_blank(peek())) ++m_pos;
  }

  // The next run of non-blank characters, possibly empty at the end.
  std::string_view token() {
    const std::size_t start = m_pos;
    while (!at_end() && !is_blank(peek())) ++m_pos;
    return m_text.substr(start, m_pos - start);
  }

 private:
  std::string_view m_text;
  std::size_t m_pos = 0;
};

// Removes leading blanks and trailing blanks and line ends, but keeps a
// trailing one that a backslash escapes (`abc\ ` is the value "abc ").
// A run of backslashes escapes the next character only when its length is odd.
std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && (is_blank(text.back()) || is_line_end(text.back()))) {
    std::size_t backslashes = 0;
    while (backslashes + 1 < text.size() && text[text.size() - 2 - backslashes] == '\\') {
      ++backslashes;
    }
    if (backslashes % 2 == 1) break;
    text.remove_suffix(1);
  }
  return text;
}

// A decimal number from 0 to `max`, digits only (no sign, no "0x"). Stopping
// as soon as the number passes `max` also keeps it from overflowing.
bool parse_decimal(std::string_view token, std::size_t max, std::size_t& out) {
  if (token.empty()) return false;
  std::size_t value = 0;
  for (char c : token) {
    if (!is_digit(c)) return false;
    value = value * 10 + static_cast<std::size_t>(c - '0');
    if (value > max) return false;
  }
  out = value;
  return true;
}

Result<std::uint8_t> parse_flags(std::string_view token) {
  std::size_t value = 0;
  if (!parse_decimal(token, 255, value)) {
    return fail("flags " + show(token) + " are not a decimal number from 0 to 255");
  }
  return static_cast<std::uint8_t>(value);
}

// Decodes one escape; the scanner stands just after the backslash.
Status read_escape(Scanner& scanner, std::string& out) {
  if (scanner.at_end()) return fail("the value ends with a lone backslash");
  const char first = scanner.take();
  if (!is_digit(first)) {
    out += first;
    return Ok{};
  }
  const std::string_view digits = scanner.rest().substr(0, 2);
  if (digits.size() < 2 || !is_digit(digits[0]) || !is_digit(digits[1])) {
    // Quote only the digits that were there: `\05x` shows as "\05".
    const std::size_t present = (!digits.empty() && is_digit(digits[0])) ? 1 : 0;
    return fail("escape " +
                show("\\" + std::string(1, first) + std::string(digits.substr(0, present))) +
                " does not have the three decimal digits of \\DDD");
  }
  scanner.take();
  scanner.take();
  const int value = (first - '0') * 100 + (digits[0] - '0') * 10 + (digits[1] - '0');
  if (value > 255) {
    return fail("escape \\" + std::to_string(value) + " is above 255");
  }
  out += static_cast<char>(static_cast<unsigned char>(value));
  return Ok{};
}

// A quoted value; the scanner stands on the opening quote.
Result<std::string> read_quoted(Scanner& scanner) {
  scanner.take();
  const std::string_view content = scanner.rest();
  std::string out;
  while (true) {
    if (scanner.at_end()) {
      return fail("the quoted value " + show(content) + " has no closing quote");
    }
    const char c = scanner.take();
    if (c == '"') return out;
    if (c == '\\') {
      if (auto escaped = read_escape(scanner, out); !escaped) return fail(escaped.error().message);
    } else {
      out += c;
    }
  }
}

// An unquoted value: one word, which an escaped blank does not end.
Result<std::string> read_word(Scanner& scanner) {
  std::string out;
  while (!scanner.at_end() && !is_blank(scanner.peek())) {
    const char c = scanner.take();
    if (c == '\\') {
      if (auto escaped = read_escape(scanner, out); !escaped) return fail(escaped.error().message);
    } else {
      out += c;
    }
  }
  return out;
}

// The RFC 3597 form after its `\#` token: a decimal length and hex octets,
// which may be split into groups by blanks (a group may even split an octet).
Result<Record> parse_generic(Scanner& scanner) {
  scanner.skip_blanks();
  const std::string_view length_token = scanner.token();
  if (length_token.empty()) return fail("the RFC 3597 form \\# has no length");
  std::size_t length = 0;
  if (!parse_decimal(length_token, k_max_rdata_octets, length)) {
    return fail("RFC 3597 length " + show(length_token) + " is not a decimal number from 0 to " +
                std::to_string(k_max_rdata_octets));
  }
  if (length == 0) return fail("RFC 3597 length is 0, but CAA RDATA cannot be empty");

  std::vector<std::uint8_t> octets;
  std::size_t digits = 0;
  int high_nibble = 0;
  for (scanner.skip_blanks(); !scanner.at_end(); scanner.skip_blanks()) {
    for (char c : scanner.token()) {
      const int nibble = hex_value(c);
      if (nibble < 0) {
        return fail("RFC 3597 data has the non-hex character " + show(std::string_view(&c, 1)));
      }
      if (++digits % 2 == 1) {
        high_nibble = nibble;
      } else {
        octets.push_back(static_cast<std::uint8_t>(high_nibble * 16 + nibble));
      }
    }
  }
  if (digits % 2 != 0) {
    return fail("RFC 3597 data has an odd number of hex digits (" + std::to_string(digits) + ")");
  }
  if (octets.size() != length) {
    return fail("RFC 3597 length is " + std::to_string(length) + " but the hex data holds " +
                octet_count(octets.size()));
  }
  return parse_wire(octets);
}

// Whether the tag can be written as plain text and read back unchanged: it
// must be one token of printable characters, with nothing the reader or a
// person could take for quoting or escaping.
bool tag_fits_text(std::string_view tag) {
  if (tag.empty() || tag.size() > k_max_tag_octets) return false;
  for (char c : tag) {
    const auto octet = static_cast<unsigned char>(c);
    if (octet <= 0x20 || octet > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

bool Record::tag_is(std::string_view lower) const { return text::iequals(tag, lower); }

std::string Record::presentation() const {
  if (!tag_fits_text(tag)) {
    static constexpr char k_hex[] = "0123456789abcdef";
    const std::vector<std::uint8_t> rdata = wire();
    std::string out = "\\# " + std::to_string(rdata.size()) + ' ';
    for (std::uint8_t octet : rdata) {
      out += k_hex[octet >> 4];
      out += k_hex[octet & 0x0f];
    }
    return out;
  }
  std::string out = std::to_string(flags) + ' ' + tag + " \"";
  for (char c : value) {
    const auto octet = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (octet < 0x20 || octet > 0x7e) {
      append_decimal_escape(out, octet);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// A Record that no parser could have produced (an empty tag or one longer
// than 255 octets) has no valid RDATA; the tag length octet is then wrong.
std::vector<std::uint8_t> Record::wire() const {
  std::vector<std::uint8_t> out;
  out.reserve(2 + tag.size() + value.size());
  out.push_back(flags);
  out.push_back(static_cast<std::uint8_t>(tag.size()));
  for (char c : tag) out.push_back(static_cast<std::uint8_t>(c));
  for (char c : value) out.push_back(static_cast<std::uint8_t>(c));
  return out;
}

Result<Record> parse_wire(std::span<const std::uint8_t> rdata) {
  if (rdata.empty()) return fail("CAA RDATA is empty");
  const auto malformed = [&](const std::string& what) {
    return fail("CAA RDATA of " + octet_count(rdata.size()) + ": " + what);
  };
  if (rdata.size() > k_max_rdata_octets) {
    return malformed("more than the " + std::to_string(k_max_rdata_octets) +
                     " octets RDATA can hold");
  }
  if (rdata.size() < 2) return malformed("the tag length octet is missing");
  const std::size_t tag_length = rdata[1];
  if (tag_length == 0) return malformed("tag length is 0, but a tag needs at least 1 octet");
  if (2 + tag_length > rdata.size()) {
    return malformed("tag length " + std::to_string(tag_length) + " runs past the end");
  }
  const auto as_text = [](std::span<const std::uint8_t> octets) {
    std::string text;
    text.reserve(octets.size());
    for (std::uint8_t octet : octets) text += static_cast<char>(octet);
    return text;
  };
  Record record;
  record.flags = rdata[0];
  record.tag = as_text(rdata.subspan(2, tag_length));
  record.value = as_text(rdata.subspan(2 + tag_length));
  return record;
}

Result<Record> parse_presentation(std::string_view text) {
  Scanner scanner(trim(text));
  if (scanner.at_end()) return fail("the CAA record text is empty");

  const std::string_view first = scanner.token();
  if (first == "\\#") return parse_generic(scanner);

  auto flags = parse_flags(first);
  if (!flags) return fail(flags.error().message);

  scanner.skip_blanks();
  const std::string_view tag = scanner.token();
  if (tag.empty()) return fail("missing tag after flags " + std::to_string(*flags));
  if (tag.size() > k_max_tag_octets) {
    return fail("tag of " + octet_count(tag.size()) + " is longer than the " +
                std::to_string(k_max_tag_octets) + " a CAA record can hold");
  }

  scanner.skip_blanks();
  if (scanner.at_end()) return fail("missing value after tag " + show(tag));
  auto value = scanner.peek() == '"' ? read_quoted(scanner) : read_word(scanner);
  if (!value) return fail(value.error().message);

  scanner.skip_blanks();
  if (!scanner.at_end()) return fail("unexpected text after the value: " + show(scanner.rest()));

  const std::size_t rdata_octets = 2 + tag.size() + value->size();
  if (rdata_octets > k_max_rdata_octets) {
    return fail("the record needs " + octet_count(rdata_octets) + " of RDATA, more than the " +
                std::to_string(k_max_rdata_octets) + " octets RDATA can hold");
  }

  Record record;
  record.flags = *flags;
  record.tag = std::string(tag);
  record.value = std::move(*value);
  return record;
}

}  // namespace caad::caa
