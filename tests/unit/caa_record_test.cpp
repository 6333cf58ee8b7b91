// Tests for lib/caa/record: CAA RDATA and presentation text, parsing both
// ways, the errors for malformed input, and the promise that presentation()
// and wire() always parse back to the record they came from.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "lib/caa/record.h"

namespace {

using caad::caa::parse_presentation;
using caad::caa::parse_wire;
using caad::caa::Record;

using namespace std::string_literals;  // "a\0b"s keeps the NUL

std::vector<std::uint8_t> octets(std::initializer_list<int> values) {
  std::vector<std::uint8_t> out;
  for (int v : values) out.push_back(static_cast<std::uint8_t>(v));
  return out;
}

std::vector<std::uint8_t> octets(std::string_view text) {
  std::vector<std::uint8_t> out;
  for (char c : text) out.push_back(static_cast<std::uint8_t>(c));
  return out;
}

// RDATA built from its parts, so that tables read like the RFC.
std::vector<std::uint8_t> rdata(int flags, std::string_view tag, std::string_view value) {
  std::vector<std::uint8_t> out = octets({flags, static_cast<int>(tag.size())});
  for (std::uint8_t o : octets(tag)) out.push_back(o);
  for (std::uint8_t o : octets(value)) out.push_back(o);
  return out;
}

Record make(std::uint8_t flags, std::string tag, std::string value) {
  Record r;
  r.flags = flags;
  r.tag = std::move(tag);
  r.value = std::move(value);
  return r;
}

// Records that must survive both round trips, chosen for the awkward cases.
std::vector<Record> awkward_records() {
  return {
      make(0, "issue", "letsencrypt.org"),
      make(128, "tbs", "Unknown"),
      make(0, "issue", ""),
      make(0, "ISSUE", ";"),
      make(255, "issuewild", "ca.example; accounturi=https://ca.example/acct/1"),
      make(1, "iodef", "mailto:security@example.com"),
      make(0, "issue", "a\"b\\c"),
      make(0, "issue", "\0\x01\x1f\x7f\x80\xff binary \t\r\n"s),
      make(0, "issue", "\\059 is not an escape here"),
      make(0, "issue", "123"),
      make(0, "issue", " leading and trailing blanks "),
      make(0, "x", "v"),
      make(0, std::string(255, 't'), "v"),
      make(0, "a b", "tag with a space"),
      make(0, "a\tb", "tag with a tab"),
      make(0, "\"issue\"", "tag with quotes"),
      make(0, "is\\sue", "tag with a backslash"),
      make(0, "\0"s, "tag that is a NUL"),
      make(0, "\xc4\xb0ssue", "tag with UTF-8"),
      make(0, "\\#", "tag that looks like the generic marker"),
      make(0, "tag\r", "tag with a CR"),
      make(7, "1234", "tag of digits"),
  };
}

}  // namespace

TEST_CASE("parse_wire accepts well-formed RDATA") {
  struct Case {
    const char* name;
    std::vector<std::uint8_t> rdata;
    Record expected;
  };
  const std::vector<Case> cases = {
      {"issue letsencrypt.org", octets("\0\x05issueletsencrypt.org"s),
       make(0, "issue", "letsencrypt.org")},
      {"empty value", octets({0, 5, 'i', 's', 's', 'u', 'e'}), make(0, "issue", "")},
      {"shortest RDATA", octets({0, 1, 'x'}), make(0, "x", "")},
      {"critical", rdata(128, "tbs", "Unknown"), make(128, "tbs", "Unknown")},
      {"all flags set", rdata(255, "issue", "x"), make(255, "issue", "x")},
      {"reserved flag", rdata(1, "issue", "x"), make(1, "issue", "x")},
      {"uppercase tag kept", rdata(0, "ISSUE", "x"), make(0, "ISSUE", "x")},
      {"odd tag kept", rdata(0, "a b\"", "x"), make(0, "a b\"", "x")},
      {"binary value", rdata(0, "issue", "\0\xff\x80"s), make(0, "issue", "\0\xff\x80"s)},
      {"tag of 255 fills RDATA", rdata(0, std::string(255, 'a'), ""),
       make(0, std::string(255, 'a'), "")},
      {"tag length 255 with value", rdata(0, std::string(255, 'a'), "v"),
       make(0, std::string(255, 'a'), "v")},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto r = parse_wire(c.rdata);
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    CHECK(*r == c.expected);
  }
}

TEST_CASE("parse_wire rejects malformed RDATA with a message that says why") {
  struct Case {
    const char* name;
    std::vector<std::uint8_t> rdata;
    std::string message;
  };
  std::vector<std::uint8_t> huge = rdata(0, "issue", std::string(65535 - 7 + 1, 'v'));
  const std::vector<Case> cases = {
      {"empty", {}, "CAA RDATA is empty"},
      {"flags only", octets({0}), "CAA RDATA of 1 octet: the tag length octet is missing"},
      {"tag length 0 alone", octets({0, 0}),
       "CAA RDATA of 2 octets: tag length is 0, but a tag needs at least 1 octet"},
      {"tag length 0 with value", octets({0, 0, 'a', 'b'}),
       "CAA RDATA of 4 octets: tag length is 0, but a tag needs at least 1 octet"},
      {"tag length 1, no tag", octets({0, 1}),
       "CAA RDATA of 2 octets: tag length 1 runs past the end"},
      {"tag length 9 in 5 octets", octets({0, 9, 'i', 's', 's'}),
       "CAA RDATA of 5 octets: tag length 9 runs past the end"},
      {"tag length one too long", octets({0, 6, 'i', 's', 's', 'u', 'e'}),
       "CAA RDATA of 7 octets: tag length 6 runs past the end"},
      {"over 65535 octets", huge,
       "CAA RDATA of 65536 octets: more than the 65535 octets RDATA can hold"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto r = parse_wire(c.rdata);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message == c.message);
  }
}

TEST_CASE("wire() writes flags, tag length, tag and value") {
  CHECK(make(0, "issue", "ca").wire() == octets({0, 5, 'i', 's', 's', 'u', 'e', 'c', 'a'}));
  CHECK(make(128, "tbs", "").wire() == octets({128, 3, 't', 'b', 's'}));
  CHECK(make(0, "x", "\0\xff"s).wire() == octets({0, 1, 'x', 0, 255}));
}

TEST_CASE("parse_presentation accepts the text forms") {
  struct Case {
    std::string text;
    Record expected;
  };
  const std::vector<Case> cases = {
      // Flags.
      {R"(0 issue "letsencrypt.org")", make(0, "issue", "letsencrypt.org")},
      {R"(1 issue "x")", make(1, "issue", "x")},
      {R"(128 tbs "Unknown")", make(128, "tbs", "Unknown")},
      {R"(255 issue "x")", make(255, "issue", "x")},
      {R"(007 issue "x")", make(7, "issue", "x")},
      {R"(00000000000000000000128 issue "x")", make(128, "issue", "x")},
      // Tags are kept as written.
      {R"(0 ISSUE "x")", make(0, "ISSUE", "x")},
      {R"(0 IsSuE "x")", make(0, "IsSuE", "x")},
      {R"(0 iss-ue_1 "x")", make(0, "iss-ue_1", "x")},
      {R"(0 is\sue "x")", make(0, "is\\sue", "x")},
      // Quoted values and their escapes.
      {R"(0 issue "")", make(0, "issue", "")},
      {R"(0 issue ";")", make(0, "issue", ";")},
      {R"(0 issue "a b  c")", make(0, "issue", "a b  c")},
      {"0 issue \"a\tb\"", make(0, "issue", "a\tb")},
      {R"(0 issue "a\"b")", make(0, "issue", "a\"b")},
      {R"(0 issue "a\\b")", make(0, "issue", "a\\b")},
      {R"(0 issue "\\")", make(0, "issue", "\\")},
      {R"(0 issue "\"")", make(0, "issue", "\"")},
      {R"(0 issue "ca.example\059 accounturi=x")", make(0, "issue", "ca.example; accounturi=x")},
      {R"(0 issue "\000")", make(0, "issue", "\0"s)},
      {R"(0 issue "\255")", make(0, "issue", "\xff")},
      {R"(0 issue "\127\128")", make(0, "issue", "\x7f\x80")},
      {R"(0 issue "\065BC")", make(0, "issue", "ABC")},
      {R"(0 issue "\0651")", make(0, "issue", "A1")},
      {R"(0 issue "\a\;\ ")", make(0, "issue", "a; ")},
      {R"(0 issue "a;b=c")", make(0, "issue", "a;b=c")},
      {R"(0 issue "ca.example; accounturi=https://ca.example/acct/1")",
       make(0, "issue", "ca.example; accounturi=https://ca.example/acct/1")},
      {R"(0 iodef "mailto:security@example.com")", make(0, "iodef", "mailto:security@example.com")},
      {"0 issue \"raw \x01\xff octets\"", make(0, "issue", "raw \x01\xff octets")},
      // Unquoted values: one word, with the same escapes.
      {"0 issue letsencrypt.org", make(0, "issue", "letsencrypt.org")},
      {"0 issue ;", make(0, "issue", ";")},
      {R"(0 issue a\ b)", make(0, "issue", "a b")},
      {R"(0 issue a\059b)", make(0, "issue", "a;b")},
      {R"(0 issue a\"b)", make(0, "issue", "a\"b")},
      {R"(0 issue a"b)", make(0, "issue", "a\"b")},
      {R"(0 issue a\\)", make(0, "issue", "a\\")},
      {R"(0 issue abc\ )", make(0, "issue", "abc ")},
      {"0 issue abc\\\t", make(0, "issue", "abc\t")},
      {R"(0 issue abc\\ )", make(0, "issue", "abc\\")},
      // Blanks: tabs, runs, surrounding blanks and line ends.
      {"0\tissue\t\"x\"", make(0, "issue", "x")},
      {"0 \t issue \t  x", make(0, "issue", "x")},
      {"  \t0 issue \"x\" \t ", make(0, "issue", "x")},
      {"0 issue \"x\"\r", make(0, "issue", "x")},
      {"0 issue x\r\n", make(0, "issue", "x")},
      {"0 issue \"x\" \r", make(0, "issue", "x")},
      // RFC 3597 generic form.
      {R"(\# 22 00 05 69 73 73 75 65 6c 65 74 73 65 6e 63 72 79 70 74 2e 6f 72 67)",
       make(0, "issue", "letsencrypt.org")},
      {R"(\# 22 0005697373756 56c657473656e6372797074 2e6f7267)",
       make(0, "issue", "letsencrypt.org")},
      {R"(\# 22 00056973737565 6C6574736 56E6372797074 2E6F7267)",
       make(0, "issue", "letsencrypt.org")},
      {"\\#\t7\t80 03 74 62 73 41 42 \r\n", make(128, "tbs", "AB")},
      {R"(\# 3 000141)", make(0, "A", "")},
      {R"(\# 03 00 01 41)", make(0, "A", "")},
      {R"(\# 6 00 03 61 20 62 00)", make(0, "a b", "\0"s)},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto r = parse_presentation(c.text);
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    CHECK(*r == c.expected);
  }
}

TEST_CASE("parse_presentation rejects malformed text with a message that says why") {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::string long_tag(256, 't');
  const std::string long_value(65535 - 2 - 5 + 1, 'v');
  const std::vector<Case> cases = {
      {"", "the CAA record text is empty"},
      {" \t \r\n", "the CAA record text is empty"},
      // Flags.
      {R"(256 issue "x")", R"(flags "256" are not a decimal number from 0 to 255)"},
      {R"(-1 issue "x")", R"(flags "-1" are not a decimal number from 0 to 255)"},
      {R"(+1 issue "x")", R"(flags "+1" are not a decimal number from 0 to 255)"},
      {R"(0x80 issue "x")", R"(flags "0x80" are not a decimal number from 0 to 255)"},
      {R"(1000 issue "x")", R"(flags "1000" are not a decimal number from 0 to 255)"},
      {R"(99999999999999999999999 issue "x")",
       R"(flags "99999999999999999999999" are not a decimal number from 0 to 255)"},
      {R"(issue "letsencrypt.org")", R"(flags "issue" are not a decimal number from 0 to 255)"},
      // Missing pieces.
      {"0", "missing tag after flags 0"},
      {"128 \t ", "missing tag after flags 128"},
      {"0 issue", R"(missing value after tag "issue")"},
      {"0 issue \t\r\n", R"(missing value after tag "issue")"},
      {"0 " + long_tag + " x", "tag of 256 octets is longer than the 255 a CAA record can hold"},
      {"0 issue " + long_value,
       "the record needs 65536 octets of RDATA, more than the 65535 octets RDATA can hold"},
      // Quotes.
      {R"(0 issue "letsencrypt.org)", R"(the quoted value "letsencrypt.org" has no closing quote)"},
      {R"(0 issue ")", R"(the quoted value "" has no closing quote)"},
      {R"(0 issue "abc\")", R"(the quoted value "abc\"" has no closing quote)"},
      // Left-over text.
      {R"(0 issue "x" extra)", R"(unexpected text after the value: "extra")"},
      {R"(0 issue "x"y)", R"(unexpected text after the value: "y")"},
      {R"(0 issue "x" "y")", R"(unexpected text after the value: ""y"")"},
      {R"(0 issue "x" ; comment)", R"(unexpected text after the value: "; comment")"},
      {"0 issue x y", R"(unexpected text after the value: "y")"},
      {"0 issue x\ty\r", R"(unexpected text after the value: "y")"},
      {"0 issue \"x\" \x01", R"(unexpected text after the value: "\001")"},
      // Escapes.
      {R"(0 issue "\256")", R"(escape \256 is above 255)"},
      {R"(0 issue "\999")", R"(escape \999 is above 255)"},
      {R"(0 issue \300)", R"(escape \300 is above 255)"},
      {R"(0 issue "\25")", R"(escape "\25" does not have the three decimal digits of \DDD)"},
      {R"(0 issue "\2")", R"(escape "\2" does not have the three decimal digits of \DDD)"},
      {R"(0 issue "\05x")", R"(escape "\05" does not have the three decimal digits of \DDD)"},
      {R"(0 issue \25)", R"(escape "\25" does not have the three decimal digits of \DDD)"},
      {R"(0 issue a\1)", R"(escape "\1" does not have the three decimal digits of \DDD)"},
      {R"(0 issue a\)", "the value ends with a lone backslash"},
      {R"(0 issue "a\)", "the value ends with a lone backslash"},
      // RFC 3597 form.
      {R"(\#)", R"(the RFC 3597 form \# has no length)"},
      {R"(\# 0)", "RFC 3597 length is 0, but CAA RDATA cannot be empty"},
      {R"(\# 0 00)", "RFC 3597 length is 0, but CAA RDATA cannot be empty"},
      {R"(\# x 00 01 41)", R"(RFC 3597 length "x" is not a decimal number from 0 to 65535)"},
      {R"(\# -3 00 01 41)", R"(RFC 3597 length "-3" is not a decimal number from 0 to 65535)"},
      {R"(\# 65536 00 01 41)",
       R"(RFC 3597 length "65536" is not a decimal number from 0 to 65535)"},
      {R"(\# 23 00 05 69 73 73 75 65 6c 65 74 73 65 6e 63 72 79 70 74 2e 6f 72 67)",
       "RFC 3597 length is 23 but the hex data holds 22 octets"},
      {R"(\# 21 00 05 69 73 73 75 65 6c 65 74 73 65 6e 63 72 79 70 74 2e 6f 72 67)",
       "RFC 3597 length is 21 but the hex data holds 22 octets"},
      {R"(\# 3)", "RFC 3597 length is 3 but the hex data holds 0 octets"},
      {R"(\# 2 00)", "RFC 3597 length is 2 but the hex data holds 1 octet"},
      {R"(\# 3 00 01 4)", "RFC 3597 data has an odd number of hex digits (5)"},
      {R"(\# 3 000 14 41)", "RFC 3597 data has an odd number of hex digits (7)"},
      {R"(\# 3 00 01 4g)", R"(RFC 3597 data has the non-hex character "g")"},
      {R"(\# 3 0x 01 41)", R"(RFC 3597 data has the non-hex character "x")"},
      {R"(\# 2 00 00)", "CAA RDATA of 2 octets: tag length is 0, but a tag needs at least 1 octet"},
      {R"(\# 2 00 05)", "CAA RDATA of 2 octets: tag length 5 runs past the end"},
      {R"(\# 1 00)", "CAA RDATA of 1 octet: the tag length octet is missing"},
      {R"(\#22 00 05 69 73 73 75 65)", R"(flags "\#22" are not a decimal number from 0 to 255)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto r = parse_presentation(c.text);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message == c.message);
  }
}

TEST_CASE("tag_is compares ASCII case-insensitively and exactly") {
  struct Case {
    std::string tag;
    const char* name;
    bool expected;
  };
  const std::vector<Case> cases = {
      {"issue", "issue", true},
      {"ISSUE", "issue", true},
      {"IsSuE", "issue", true},
      {"issuewild", "issue", false},
      {"issue", "issuewild", false},
      {"issu", "issue", false},
      {"iodef", "issue", false},
      {"issue ", "issue", false},
      {"\xc4\xb0ssue", "issue", false},  // no Unicode case folding
      {"@", "`", false},                 // 0x40 and 0x60 differ by the case bit only
      {"[", "{", false},
      {"TBS", "tbs", true},
      {"tbs", "", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.tag);
    CAPTURE(c.name);
    CHECK(make(0, c.tag, "").tag_is(c.name) == c.expected);
  }
}

TEST_CASE("a tag parsed in upper case keeps its spelling and still matches") {
  for (const std::string text :
       {"0 ISSUE \"ca.ex\"", "\\# 12 00 05 49 53 53 55 45 63 61 2e 65 78"}) {
    CAPTURE(text);
    auto r = parse_presentation(text);
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    CHECK(r->tag == "ISSUE");
    CHECK(r->tag_is("issue"));
    CHECK_FALSE(r->tag_is("issuewild"));
    CHECK(r->presentation() == "0 ISSUE \"ca.ex\"");
  }
}

TEST_CASE("critical() is the 128 bit of the flags") {
  struct Case {
    std::uint8_t flags;
    bool expected;
  };
  const std::vector<Case> cases = {{0, false},  {1, false},  {127, false},
                                   {128, true}, {129, true}, {255, true}};
  for (const Case& c : cases) {
    CAPTURE(static_cast<int>(c.flags));
    CHECK(make(c.flags, "issue", "").critical() == c.expected);
  }
}

TEST_CASE("presentation() quotes the value and escapes what text cannot carry") {
  struct Case {
    Record record;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {make(0, "issue", "letsencrypt.org"), R"(0 issue "letsencrypt.org")"},
      {make(128, "tbs", "Unknown"), R"(128 tbs "Unknown")"},
      {make(255, "issue", ""), R"(255 issue "")"},
      {make(0, "ISSUE", "x"), R"(0 ISSUE "x")"},
      {make(0, "issue", "ca.example; accounturi=https://x/1"),
       R"(0 issue "ca.example; accounturi=https://x/1")"},
      {make(0, "issue", "a\"b\\c"), R"(0 issue "a\"b\\c")"},
      {make(0, "issue", " ~"), R"(0 issue " ~")"},
      {make(0, "issue", "\0\t\x1f\x7f\x80\xff"s), R"(0 issue "\000\009\031\127\128\255")"},
      {make(0, "issue",
            "\x01"
            "1"),
       R"(0 issue "\0011")"},
      // Tags that text cannot carry fall back to the RFC 3597 form.
      {make(0, "a b", "x"), R"(\# 6 000361206278)"},
      {make(0, "a\"", "v"), R"(\# 5 0002612276)"},
      {make(0, "a\\", "v"), R"(\# 5 0002615c76)"},
      {make(128, "\xc4\xb0", ""), R"(\# 4 8002c4b0)"},
      {make(0, "t\x7f", "\xff"), R"(\# 5 0002747fff)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.expected);
    CHECK(c.record.presentation() == c.expected);
  }
}

TEST_CASE("records round-trip through wire() and presentation()") {
  for (const Record& record : awkward_records()) {
    CAPTURE(record.presentation());
    auto from_wire = parse_wire(record.wire());
    REQUIRE_MESSAGE(from_wire.has_value(), from_wire.error().message);
    CHECK(*from_wire == record);
    auto from_text = parse_presentation(record.presentation());
    REQUIRE_MESSAGE(from_text.has_value(), from_text.error().message);
    CHECK(*from_text == record);
  }
}

TEST_CASE("every octet round-trips as a value and as a one-octet tag") {
  for (int i = 0; i < 256; ++i) {
    CAPTURE(i);
    const std::string octet(1, static_cast<char>(i));
    for (const Record& record : {make(0, "issue", "a" + octet + "b"), make(128, octet, octet)}) {
      auto from_text = parse_presentation(record.presentation());
      REQUIRE_MESSAGE(from_text.has_value(), from_text.error().message);
      CHECK(*from_text == record);
      auto from_wire = parse_wire(record.wire());
      REQUIRE(from_wire.has_value());
      CHECK(*from_wire == record);
    }
  }
}

TEST_CASE("text round-trips to a stable presentation") {
  const std::vector<std::string> texts = {
      R"(0 issue "letsencrypt.org")",
      R"(0 issue letsencrypt.org)",
      "  128\ttbs\tUnknown \r\n",
      R"(0 ISSUE "ca.example\059 accounturi=x")",
      R"(0 issue "\000\255 \"\\")",
      R"(0 issue a\ b)",
      R"(\# 22 00 05 69 73 73 75 65 6c 65 74 73 65 6e 63 72 79 70 74 2e 6f 72 67)",
      R"(\# 6 00 03 61 20 62 00)",
      R"(\# 5 00 02 61 22 76)",
  };
  for (const std::string& text : texts) {
    CAPTURE(text);
    auto first = parse_presentation(text);
    REQUIRE_MESSAGE(first.has_value(), first.error().message);
    const std::string written = first->presentation();
    auto second = parse_presentation(written);
    REQUIRE_MESSAGE(second.has_value(), second.error().message);
    CHECK(*second == *first);
    CHECK(second->presentation() == written);
  }
  // The RFC 3597 example reads back as the ordinary text form.
  CHECK(parse_presentation(texts[6])->presentation() == R"(0 issue "letsencrypt.org")");
}
