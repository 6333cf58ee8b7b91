// Unit tests for lib/dns/name: canonical forms, every rejection and its
// message, IDNA conversion both ways, from_dns(), label arithmetic and
// wildcard parsing. Tables keep each rule next to its examples.
#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/dns/name.h"

namespace {

using caad::dns::DomainRequest;
using caad::dns::Name;
using caad::dns::parse_domain;

// Parses a name the test knows is valid; a failure shows the message.
Name name(std::string_view input) {
  auto parsed = Name::parse(input);
  if (!parsed) FAIL_CHECK("unexpected rejection: " << parsed.error().message);
  REQUIRE(parsed.has_value());
  return *parsed;
}

std::string repeat(std::string_view part, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out += part;
  return out;
}

// A name of exactly `octets` octets made of 63-octet labels and one shorter
// label, e.g. 253 = 63 + 1 + 63 + 1 + 63 + 1 + 61.
std::string name_of_length(std::size_t octets) {
  std::string out;
  while (out.size() < octets) {
    if (!out.empty()) out += '.';
    const std::size_t room = octets - out.size();
    out += std::string(std::min<std::size_t>(63, room), 'a');
  }
  return out;
}

// The message must start with the quoted input and name the problem.
struct Rejection {
  std::string input;
  std::string problem;
  std::string quoted = "";  // how the message quotes the input, when not plainly
};

void check_rejection(const Rejection& row, const std::string& message) {
  const std::string quoted = row.quoted.empty() ? "\"" + row.input + "\"" : row.quoted;
  CAPTURE(message);
  CHECK(message.starts_with(quoted + ": "));
  CHECK(message.find(row.problem) != std::string::npos);
}

}  // namespace

TEST_CASE("Name::parse gives the canonical form") {
  struct Row {
    std::string input;
    std::string text;
  };
  const std::vector<Row> rows = {
      {"example.com", "example.com"},
      {"Example.COM", "example.com"},
      {"example.com.", "example.com"},
      {"EXAMPLE.COM.", "example.com"},
      {"com", "com"},
      {"COM.", "com"},
      {"a", "a"},
      {"shop.example.co.uk", "shop.example.co.uk"},
      {"a-b.example", "a-b.example"},
      {"a--b.example", "a--b.example"},  // R-LDH in ASCII is a real-world host name
      {"123.example", "123.example"},    // digits are fine below the TLD
      {"0.example.a1", "0.example.a1"},
      {"xn--bcher-kva.example", "xn--bcher-kva.example"},
      {"XN--BCHER-KVA.Example.", "xn--bcher-kva.example"},
      {"Bücher.example", "xn--bcher-kva.example"},
      {"BÜCHER.example", "xn--bcher-kva.example"},
      {"bücher.EXAMPLE.", "xn--bcher-kva.example"},
      {"faß.de", "xn--fa-hia.de"},  // non-transitional: ß is kept, not mapped to ss
      {"mañana.com", "xn--maana-pta.com"},
      {"a\xCC\x81.example", "xn--1ca.example"},  // "a" + combining acute, normalised to NFC
      {"\xEF\xBD\x81\xEF\xBD\x82\xEF\xBD\x83.example", "abc.example"},  // full-width "ａｂｃ"
      {"例え。jp", "xn--r8jz45g.jp"},  // the ideographic full stop separates labels
      {"xn--bcher-kva.Bücher.example", "xn--bcher-kva.xn--bcher-kva.example"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.input);
    auto parsed = Name::parse(row.input);
    REQUIRE_MESSAGE(parsed.has_value(), parsed.error().message);
    CHECK(parsed->text() == row.text);
  }
}

TEST_CASE("Name::parse rejects bad input and says what is wrong") {
  const std::vector<Rejection> rows = {
      {"", "the name is empty"},
      {".", "is the DNS root, not a domain name"},
      {"a..b", "has an empty label (\"..\")"},
      {"example.com..", "has an empty label (\"..\")"},
      {".example.com", "starts with a dot"},
      {"..", "starts with a dot"},
      {"exa mple.com",
       "label \"exa mple\" has a character that is not a letter, digit or hyphen (' ')"},
      {"exa$mple.com",
       "label \"exa$mple\" has a character that is not a letter, digit or hyphen ('$')"},
      {"_acme-challenge.example.com",
       "label \"_acme-challenge\" has a character that is not a letter, digit or hyphen ('_'; "
       "certificates cannot carry underscores)"},
      {"a_b.example", "('_'"},
      {"example.com:443", "(':'; a URL or port does not belong in a domain name)"},
      {"https://example.com", "a URL or port"},
      {"-example.com", "label \"-example\" starts with a hyphen"},
      {"example-.com", "label \"example-\" ends with a hyphen"},
      {"example.-", "label \"-\" starts with a hyphen"},
      {"*.example.com", "wildcard label \"*\", which a host name cannot have"},
      {"a.*.example.com", "wildcard label \"*\""},
      {"*x.example.com",
       "label \"*x\" has a character that is not a letter, digit or hyphen ('*')"},
      {"1.2.3.4", "is an IPv4 address, not a domain name"},
      {"1.2.3.4.", "is an IPv4 address, not a domain name"},
      {"example.123", "all-digit top-level label \"123\""},
      {"example.123", "an IP address is not a domain name"},
      {"42", "all-digit top-level label \"42\""},
      {"::1", "is an IPv6 address, not a domain name"},
      {"2001:DB8::1", "is an IPv6 address, not a domain name"},
      {"[2001:db8::1]", "is an IPv6 address, not a domain name"},
      {" example.com", "starts with whitespace; caad does not trim names"},
      {"example.com ", "ends with whitespace; caad does not trim names"},
      {"\texample.com", "starts with whitespace", "\"\\texample.com\""},
      {"example.com\n", "ends with whitespace", "\"example.com\\n\""},
      {"example.com\r\n", "ends with whitespace", "\"example.com\\r\\n\""},
      {"\xC2\xA0"
       "example.com",
       "starts with whitespace"},  // no-break space
      {"\xEF\xBB\xBF"
       "example.com",
       "starts with whitespace"},                           // byte-order mark
      {"example.com\xE3\x80\x80", "ends with whitespace"},  // ideographic space
      {"exa\tmple.com", "not a letter, digit or hyphen ('\\t')", "\"exa\\tmple.com\""},
      {"exa\x01mple.com", "('\\x01')", "\"exa\\x01mple.com\""},
      {"say\"hi.com", "('\"')", "\"say\\\"hi.com\""},
      {std::string("a\0b.com", 7), "('\\x00')", "\"a\\x00b.com\""},
      // A-labels: each must decode and encode back to itself.
      {"xn--zz.example", "label \"xn--zz\" is not a valid A-label: its Punycode does not decode"},
      {"XN--ZZ.example", "label \"XN--ZZ\" is not a valid A-label"},
      {"xn--.example", "label \"xn--\" ends with a hyphen"},
      {"xn--abc.example",  // decodes to C1 controls, which the message escapes
       "label \"xn--abc\" is not a valid A-label: it decodes to "
       "\"\\u{0082}\\u{0081}\\u{0080}\", which has a "
       "character that IDNA2008 does not allow"},
      {"xn--ls8h.example",
       "label \"xn--ls8h\" is not a valid A-label: it decodes to \"💩\", which has a character "
       "that IDNA2008 does not allow in domain names (U+1F4A9"},
      {"xn--wca.example",
       "label \"xn--wca\" is not a valid A-label: it decodes to \"Ü\", whose A-label is "
       "\"xn--tda\""},
      // U-labels that IDNA2008 refuses.
      {"😀.example",
       "label \"😀\" has a character that IDNA2008 does not allow in domain names (U+1F600 "
       "\"😀\")"},
      {"i❤.example", "(U+2764"},
      {"ü-.example", "label \"ü-\" ends with a hyphen"},
      {"-ü.example", "label \"-ü\" starts with a hyphen"},
      {"ab--ü.example", "has \"--\" as its third and fourth characters"},
      {"\xCC\x81"
       "a.example",
       "starts with a combining mark"},
      {"ü\xE2\x80\x8D.example", "zero-width joiner or non-joiner"},
      {"ü_x.example",
       "label \"ü_x\" has a character that is not a letter, digit or hyphen ('_'; certificates "
       "cannot carry underscores)"},
      {"ü x.example", "label \"ü x\" has a character that is not a letter, digit or hyphen (' ')"},
      {"ü\xC2\xA0x.example", "label \"ü\xC2\xA0x\" has a space character (U+00A0)"},
      {"\xEF\xBC\xBF"
       "ü.example",
       "(as ASCII \"xn--_-"},  // full-width low line maps to '_'
      {"ü.\xE3\x80\x82"
       "a",
       "has an empty label"},  // "ü..a" once "。" is a dot
      {"\xFF.example", "label \"\\xFF\" is not valid UTF-8 (byte \\xFF at offset 0)",
       "\"\\xFF.example\""},
      {"a\xC3.example", "is not valid UTF-8 (byte \\xC3 at offset 1)", "\"a\\xC3.example\""},
      {"\xED\xA0\x80.example", "is not valid UTF-8", "\"\\xED\\xA0\\x80.example\""},  // surrogate
      {"\xC0\xAE.example", "is not valid UTF-8", "\"\\xC0\\xAE.example\""},  // overlong "."
  };
  for (const Rejection& row : rows) {
    CAPTURE(row.input);
    auto parsed = Name::parse(row.input);
    REQUIRE_FALSE(parsed.has_value());
    check_rejection(row, parsed.error().message);
  }
}

TEST_CASE("the message for a bad character is the one people read") {
  auto parsed = Name::parse("exa mple.com");
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().message ==
        "\"exa mple.com\": label \"exa mple\" has a character that is not a letter, digit or "
        "hyphen (' ')");
}

TEST_CASE("label length limit is 63 octets, after IDNA conversion") {
  const std::string label63(63, 'a');
  const std::string label64(64, 'a');
  CHECK(name(label63 + ".example").text() == label63 + ".example");
  CHECK(name(std::string(63, 'A') + ".example").text() == label63 + ".example");

  auto long_label = Name::parse(label64 + ".example");
  REQUIRE_FALSE(long_label.has_value());
  check_rejection(
      {label64 + ".example", "label \"" + label64 + "\" is 64 octets long; the limit is 63"},
      long_label.error().message);

  // Sixty "ü" are 120 octets as typed and far more than 63 as an A-label.
  auto wide = Name::parse(repeat("ü", 60) + ".example");
  REQUIRE_FALSE(wide.has_value());
  check_rejection(
      {repeat("ü", 60) + ".example", "is longer than 63 octets once converted to an A-label"},
      wide.error().message);

  // 55 ASCII letters and one "ü" make a 63-octet A-label ("xn--" + 55 + "-" + 3).
  const std::string fits = repeat("a", 55) + "ü";
  auto fitted = Name::parse(fits + ".example");
  REQUIRE_MESSAGE(fitted.has_value(), fitted.error().message);
  CHECK(fitted->labels().front().size() == 63);
  CHECK(fitted->display() == fits + ".example");

  // One letter more makes 64 once converted, though the input label is 58 octets.
  const std::string too_wide = repeat("a", 56) + "ü";
  auto rejected = Name::parse(too_wide + ".example");
  REQUIRE_FALSE(rejected.has_value());
  CHECK(rejected.error().message.find("label \"" + too_wide + "\"") != std::string::npos);
  CHECK(rejected.error().message.find("63") != std::string::npos);
}

TEST_CASE("name length limit is 253 octets without the trailing dot") {
  const std::string n253 = name_of_length(253);
  const std::string n254 = name_of_length(254);
  REQUIRE(n253.size() == 253);
  REQUIRE(n254.size() == 254);

  CHECK(name(n253).text() == n253);
  CHECK(name(n253 + ".").text() == n253);  // the trailing dot does not count

  auto too_long = Name::parse(n254);
  REQUIRE_FALSE(too_long.has_value());
  check_rejection({n254, "is 254 octets long; the limit is 253 (255 on the wire)"},
                  too_long.error().message);

  // 32 labels "ü" are 95 octets as typed but 32 * 7 + 31 = 255 as A-labels.
  std::string wide;
  for (int i = 0; i < 32; ++i) wide += (i == 0 ? "" : ".") + std::string("ü");
  auto idn_too_long = Name::parse(wide);
  REQUIRE_FALSE(idn_too_long.has_value());
  check_rejection({wide, "is 255 octets long as A-labels; the limit is 253"},
                  idn_too_long.error().message);
}

TEST_CASE("error messages quote huge input only in part") {
  const std::string garbage(100000, '!');
  auto parsed = Name::parse(garbage);
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().message.size() < 1000);
  CHECK(parsed.error().message.starts_with("\"!!!"));
  CHECK(parsed.error().message.find("...\": ") != std::string::npos);
}

TEST_CASE("display() shows U-labels and round-trips through parse()") {
  struct Row {
    std::string input;
    std::string display;
  };
  const std::vector<Row> rows = {
      {"example.com", "example.com"},        {"xn--bcher-kva.example", "bücher.example"},
      {"Bücher.example", "bücher.example"},  {"faß.de", "faß.de"},
      {"shop.xn--fa-hia.de", "shop.faß.de"}, {"例え。jp", "例え.jp"},
      {"axn--b.example", "axn--b.example"},  // "xn--" inside a label is not a prefix
  };
  for (const Row& row : rows) {
    CAPTURE(row.input);
    const Name parsed = name(row.input);
    CHECK(parsed.display() == row.display);
    CHECK(name(parsed.display()) == parsed);
  }
}

TEST_CASE("display() falls back to the A-labels when one of them is bogus") {
  for (std::string_view text :
       {"xn--zz.example", "xn--ls8h.example", "xn--wca.example", "xn--bcher-kva.xn--zz.example"}) {
    CAPTURE(text);
    const auto from_dns = Name::from_dns(text);
    REQUIRE(from_dns.has_value());
    CHECK(from_dns->display() == text);
  }
}

TEST_CASE("Name::from_dns lower-cases and drops a trailing dot, nothing more") {
  struct Row {
    std::string input;
    std::optional<std::string> text;
  };
  const std::string n253 = name_of_length(253);
  const std::vector<Row> rows = {
      {"Example.COM.", "example.com"},
      {"example.com", "example.com"},
      {"COM.", "com"},
      {"_acme-challenge.Example.", "_acme-challenge.example"},
      {"*.example.", "*.example"},
      {"1.2.3.4.", "1.2.3.4"},
      {"a b.example.", "a b.example"},
      {"\xC3\x9C.example.", "\xC3\x9C.example"},  // only A-Z are folded, not "Ü"
      {"a\\.b.example.", "a\\.b.example"},
      {"a\\.", "a\\."},     // an escaped dot is part of the label, not the root
      {"a\\\\.", "a\\\\"},  // an escaped backslash, then the root
      {n253 + ".", n253},
      {n253, n253},
      {"", std::nullopt},
      {".", std::nullopt},
      {name_of_length(254), std::nullopt},
      {name_of_length(254) + ".", std::nullopt},
  };
  for (const Row& row : rows) {
    CAPTURE(row.input);
    const auto parsed = Name::from_dns(row.input);
    REQUIRE(parsed.has_value() == row.text.has_value());
    if (parsed) CHECK(parsed->text() == *row.text);
  }
}

TEST_CASE("Name::from_dns counts an escape as the one octet it stands for") {
  // 62 octets of "a" and "\065" ("A") make a 63-octet label written in 66 characters.
  const std::string label = std::string(62, 'a') + "\\065";
  const std::string text = label + "." + label + "." + label + "." + std::string(61, 'b');
  REQUIRE(text.size() > 253);
  const auto parsed = Name::from_dns(text);
  REQUIRE(parsed.has_value());
  CHECK(parsed->label_count() == 4);
  CHECK_FALSE(Name::from_dns(text + "b").has_value());
}

TEST_CASE("labels, label_count and the parent chain") {
  const Name start = name("a.b.example");
  CHECK(start.labels() == std::vector<std::string_view>{"a", "b", "example"});
  CHECK(start.label_count() == 3);

  std::vector<std::string> chain;
  for (std::optional<Name> step = start; step; step = step->parent()) {
    chain.push_back(step->text());
  }
  CHECK(chain == std::vector<std::string>{"a.b.example", "b.example", "example"});

  const Name tld = name("com");
  CHECK(tld.labels() == std::vector<std::string_view>{"com"});
  CHECK(tld.label_count() == 1);
  CHECK_FALSE(tld.parent().has_value());

  CHECK(name("Bücher.example").labels() ==
        std::vector<std::string_view>{"xn--bcher-kva", "example"});

  // Escaped dots from DNS presentation text do not split labels.
  const auto escaped = Name::from_dns("a\\.b.example.");
  REQUIRE(escaped.has_value());
  CHECK(escaped->labels() == std::vector<std::string_view>{"a\\.b", "example"});
  CHECK(escaped->label_count() == 2);
  REQUIRE(escaped->parent().has_value());
  CHECK(escaped->parent()->text() == "example");
}

TEST_CASE("is_at_or_below compares whole labels") {
  struct Row {
    std::string name;
    std::string ancestor;
    bool expected;
  };
  const std::vector<Row> rows = {
      {"example.com", "example.com", true},
      {"www.example.com", "example.com", true},
      {"a.b.example.com", "example.com", true},
      {"a.b.example.com", "com", true},
      {"example.com", "www.example.com", false},
      {"badexample.com", "example.com", false},  // a suffix, but not at a label boundary
      {"example.com", "example.org", false},
      {"example.com", "xample.com", false},
      {"com", "example.com", false},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    CAPTURE(row.ancestor);
    CHECK(name(row.name).is_at_or_below(name(row.ancestor)) == row.expected);
  }

  // "a\.example" is one label from the DNS, so it is not below "example".
  const auto escaped = Name::from_dns("a\\.example");
  REQUIRE(escaped.has_value());
  CHECK_FALSE(escaped->is_at_or_below(name("example")));
  const auto escaped_backslash = Name::from_dns("a\\\\.example");
  REQUIRE(escaped_backslash.has_value());
  CHECK(escaped_backslash->is_at_or_below(name("example")));
}

TEST_CASE("names compare and sort by their canonical text") {
  CHECK(name("Example.COM.") == name("example.com"));
  CHECK(name("Bücher.example") == name("xn--bcher-kva.example"));
  CHECK(name("example.com") != name("example.org"));
  CHECK(name("a.example") < name("b.example"));
  CHECK(*Name::from_dns("Example.com.") == name("example.com"));

  std::vector<Name> names = {name("www.example.com"), name("example.com"), name("Bücher.example"),
                             name("a.example"), name("com")};
  std::sort(names.begin(), names.end());
  std::vector<std::string> texts;
  for (const Name& n : names) texts.push_back(n.text());
  CHECK(texts == std::vector<std::string>{"a.example", "com", "example.com", "www.example.com",
                                          "xn--bcher-kva.example"});
}

TEST_CASE("parse_domain accepts a name or a single leading wildcard") {
  struct Row {
    std::string input;
    std::string name;
    bool wildcard;
    std::string text;
    std::string display;
  };
  const std::vector<Row> rows = {
      {"example.com", "example.com", false, "example.com", "example.com"},
      {"Example.com.", "example.com", false, "example.com", "example.com"},
      {"*.example.com", "example.com", true, "*.example.com", "*.example.com"},
      {"*.EXAMPLE.com.", "example.com", true, "*.example.com", "*.example.com"},
      {"*.com", "com", true, "*.com", "*.com"},
      {"*.Bücher.example", "xn--bcher-kva.example", true, "*.xn--bcher-kva.example",
       "*.bücher.example"},
      {"shop.xn--fa-hia.de", "shop.xn--fa-hia.de", false, "shop.xn--fa-hia.de", "shop.faß.de"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.input);
    auto parsed = parse_domain(row.input);
    REQUIRE_MESSAGE(parsed.has_value(), parsed.error().message);
    CHECK(parsed->name.text() == row.name);
    CHECK(parsed->wildcard == row.wildcard);
    CHECK(parsed->text() == row.text);
    CHECK(parsed->display() == row.display);
    // The canonical text parses back to the same request.
    auto again = parse_domain(parsed->text());
    REQUIRE(again.has_value());
    CHECK(*again == *parsed);
  }
  CHECK(*parse_domain("*.example.com") != *parse_domain("example.com"));
  CHECK(*parse_domain("*.Example.com.") ==
        DomainRequest{*Name::from_dns("example.com"), /*wildcard=*/true});
}

TEST_CASE("parse_domain rejects misplaced wildcards and bad names") {
  const std::vector<Rejection> rows = {
      {"", "the name is empty"},
      {"*", "a wildcard needs a domain after it"},
      {"*.", "a wildcard needs a domain after \"*.\""},
      {"*..", "a wildcard needs a domain after \"*.\""},
      {"a.*.b", "wildcard \"*\" that is not the leftmost label"},
      {"a.b.*", "wildcard \"*\" that is not the leftmost label"},
      {"*.*.x", "more than one wildcard label"},
      {"*.a.*.x", "wildcard \"*\" that is not the leftmost label"},
      {"**.x", "label \"**\" is not a wildcard: \"*\" must be a whole label"},
      {"*x.com", "label \"*x\" is not a wildcard"},
      {"*.x*.com", "label \"x*\" is not a wildcard"},
      {"*..example.com", "has an empty label"},
      {"*.example..com", "has an empty label"},
      {" *.example.com", "starts with whitespace"},
      {"*.example.com ", "ends with whitespace"},
      {"*. example.com", "label \" example\" has a character that is not a letter"},
      {"*.exa_mple.com", "('_'; certificates cannot carry underscores)"},
      {"*.1.2.3.4", "is an IPv4 address"},
      {"*.-a.com", "label \"-a\" starts with a hyphen"},
      {"*.xn--zz.com", "label \"xn--zz\" is not a valid A-label"},
      {"*.😀.com", "does not allow"},
      {"*." + name_of_length(254), "is 254 octets long"},
  };
  for (const Rejection& row : rows) {
    CAPTURE(row.input);
    auto parsed = parse_domain(row.input);
    REQUIRE_FALSE(parsed.has_value());
    check_rejection(row, parsed.error().message);
  }
}

TEST_CASE("a wildcard request counts the \"*.\" towards the 253-octet limit") {
  const std::string n251 = name_of_length(251);
  auto parsed = parse_domain("*." + n251);
  REQUIRE_MESSAGE(parsed.has_value(), parsed.error().message);
  CHECK(parsed->wildcard);
  CHECK(parsed->name.text() == n251);
  CHECK(parsed->text().size() == 253);

  const std::string n252 = name_of_length(252);
  REQUIRE(Name::parse(n252).has_value());
  auto too_long = parse_domain("*." + n252);
  REQUIRE_FALSE(too_long.has_value());
  check_rejection({"*." + n252, "is 254 octets long with the \"*.\"; the limit is 253"},
                  too_long.error().message);
}
