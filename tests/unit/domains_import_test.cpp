// Tests for lib/domains: CSV (RFC 4180 quoting, CRLF, BOM, header rules) and
// JSON Lines imports, every error naming its line and field, duplicates naming
// both lines, IDN names, and 100,000-line files.
#include <doctest/doctest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "lib/domains/import.h"
#include "lib/util/time.h"

using namespace caad;
using domains::Format;

namespace {

const std::vector<std::string> k_cas = {"letsencrypt", "digicert"};

Result<std::vector<store::DomainSpec>> parse_text(const std::string& text, Format format,
                                                  const char* source = "domains.csv") {
  std::istringstream in(text);
  return domains::parse(in, format, source, k_cas);
}

std::vector<store::DomainSpec> csv_ok(const std::string& text) {
  auto r = parse_text(text, Format::csv);
  INFO(text);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return std::move(r).value();
}

std::string csv_error(const std::string& text) {
  auto r = parse_text(text, Format::csv);
  INFO(text);
  REQUIRE_FALSE(r.has_value());
  return r.error().message;
}

std::vector<store::DomainSpec> jsonl_ok(const std::string& text) {
  auto r = parse_text(text, Format::jsonl, "domains.jsonl");
  INFO(text);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return std::move(r).value();
}

std::string jsonl_error(const std::string& text) {
  auto r = parse_text(text, Format::jsonl, "domains.jsonl");
  INFO(text);
  REQUIRE_FALSE(r.has_value());
  return r.error().message;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

UnixSeconds ts(const char* text) {
  return *parse_timestamp(text);
}

}  // namespace

TEST_CASE("detect_format looks at the first non-blank character") {
  CHECK(domains::detect_format("{\"name\":\"a.example\"}") == Format::jsonl);
  CHECK(domains::detect_format("  \t{\"name\":\"a.example\"}") == Format::jsonl);
  CHECK(domains::detect_format("\xEF\xBB\xBF{\"name\":\"a.example\"}") == Format::jsonl);
  CHECK(domains::detect_format("name,ca") == Format::csv);
  CHECK(domains::detect_format("\xEF\xBB\xBFname") == Format::csv);
  CHECK(domains::detect_format("") == Format::csv);
}

TEST_CASE("a CSV file with every column, in any order and letter case") {
  auto specs = csv_ok(
      " Renew_At , NAME ,ca,Wildcard,not_after\n"
      "2026-05-01,shop.example.com,letsencrypt;digicert,,2026-06-01T00:00:00Z\n"
      ",*.example.org, digicert ,true,\n"
      ",www.example.net,,no,2026-07-01\n");
  REQUIRE(specs.size() == 3);

  CHECK(specs[0].request.text() == "shop.example.com");
  CHECK_FALSE(specs[0].request.wildcard);
  CHECK(specs[0].cas == std::vector<std::string>{"letsencrypt", "digicert"});
  CHECK(specs[0].renew_at == ts("2026-05-01"));
  CHECK(specs[0].not_after == ts("2026-06-01T00:00:00Z"));
  CHECK(specs[0].enabled);

  CHECK(specs[1].request.text() == "*.example.org");
  CHECK(specs[1].request.wildcard);
  CHECK(specs[1].cas == std::vector<std::string>{"digicert"});
  CHECK_FALSE(specs[1].renew_at);
  CHECK_FALSE(specs[1].not_after);

  CHECK(specs[2].request.text() == "www.example.net");
  CHECK(specs[2].cas.empty());
  CHECK(specs[2].not_after == ts("2026-07-01"));
}

TEST_CASE("a CSV file needs only the name column") {
  auto specs = csv_ok("name\nA.Example.COM.\nb.example.com\n");
  REQUIRE(specs.size() == 2);
  CHECK(specs[0].request.text() == "a.example.com");
  CHECK(specs[0].cas.empty());
  CHECK(csv_ok("name\n").empty());
}

TEST_CASE("CSV quoting follows RFC 4180") {
  SUBCASE("quoted fields, commas inside quotes, doubled quotes") {
    auto specs = csv_ok(
        "\"name\",\"ca\",\"not_after\"\n"
        "\"a.example.com\",\"letsencrypt;digicert\",\"2026-01-02\"\n"
        "  \"b.example.com\"  ,\"\",\"\"\n");
    REQUIRE(specs.size() == 2);
    CHECK(specs[0].cas.size() == 2);
    CHECK(specs[0].not_after == ts("2026-01-02"));
    CHECK(specs[1].request.text() == "b.example.com");
    CHECK(specs[1].cas.empty());

    // A comma and a doubled quote stay inside the value, where the name
    // check reports them with the value quoted.
    std::string e = csv_error("name,ca\n\"a,\"\"b.example.com\",letsencrypt\n");
    CHECK(contains(e, "domains.csv:2: name: "));
    CHECK(contains(e, "a,\\\"b"));
  }
  SUBCASE("a quoted value may span lines; line numbers still count them") {
    std::string e = csv_error("name,ca\n\"a.example.com\",\"letsencrypt\n\"\nb.example.com,nope\n");
    CHECK(contains(e, "domains.csv:4: ca: unknown CA \"nope\""));
  }
  SUBCASE("broken quoting is an error with the line") {
    CHECK(contains(csv_error("name\na\"b.example.com\n"),
                   "domains.csv:2: field 1: a '\"' inside an unquoted value"));
    CHECK(contains(csv_error("name\n\"a.example.com\n"),
                   "domains.csv:2: field 1: the quoted value is never closed"));
    CHECK(contains(csv_error("name,ca\n\"a.example.com\"x,letsencrypt\n"),
                   "domains.csv:2: field 1: 'x' after the closing quote"));
  }
}

TEST_CASE("CRLF line ends, blank lines and a byte-order mark are tolerated") {
  auto specs = csv_ok(
      "\xEF\xBB\xBFname,wildcard\r\n\r\na.example.com,false\r\n   \r\nb.example.com,TRUE\r\n\r\n");
  REQUIRE(specs.size() == 2);
  CHECK(specs[0].request.text() == "a.example.com");
  CHECK(specs[1].request.text() == "*.b.example.com");

  // Blank lines still count: the error is on line 6.
  CHECK(contains(csv_error("name\r\n\r\na.example.com\r\n\r\n\r\nbad..name\r\n"),
                 "domains.csv:6: name: "));
  // A file that ends without a newline, or in a lone CR.
  CHECK(csv_ok("name\na.example.com").size() == 1);
  CHECK(csv_ok("name\na.example.com\r").size() == 1);
}

TEST_CASE("CSV header errors name the column") {
  CHECK(contains(csv_error("name,expires\na.example.com,2026-01-01\n"),
                 "domains.csv:1: unknown column \"expires\"; the columns are name, wildcard, ca, "
                 "not_after, renew_at"));
  CHECK(contains(csv_error("ca,not_after\nletsencrypt,2026-01-01\n"),
                 "domains.csv:1: no \"name\" column"));
  CHECK(contains(csv_error("name,Name\na,b\n"), "domains.csv:1: column \"name\" appears twice"));
  CHECK(contains(csv_error("name,,ca\na,b,c\n"), "domains.csv:1: column 2 has no name"));
  CHECK(contains(csv_error(""), "domains.csv:1: no header line"));
  CHECK(contains(csv_error("\n  \n"), "no header line"));
  // "enabled" is a JSON Lines key only.
  CHECK(contains(csv_error("name,enabled\na.example.com,true\n"), "unknown column \"enabled\""));
}

TEST_CASE("a CSV line with the wrong number of fields is an error") {
  CHECK(contains(csv_error("name,ca\na.example.com\n"),
                 "domains.csv:2: 1 field, but the header has 2"));
  CHECK(contains(csv_error("name,ca\na.example.com,letsencrypt,\n"),
                 "domains.csv:2: 3 fields, but the header has 2"));
}

TEST_CASE("field errors say source, line, field and reason") {
  SUBCASE("names") {
    std::string e = csv_error("name\na.example.com\nexa mple.com\n");
    CHECK(e.starts_with("domains.csv:3: name: \"exa mple.com\""));
    CHECK(contains(csv_error("name,ca\n,letsencrypt\n"), "domains.csv:2: name: is empty"));
    CHECK(contains(csv_error("name\n*.*.example.com\n"), "domains.csv:2: name: "));
  }
  SUBCASE("dates") {
    std::string e =
        csv_error("name,not_after\na.example.com,2026-01-01\nb.example.com,2026-13-01\n");
    CHECK(e.starts_with("domains.csv:3: not_after: \"2026-13-01\""));
    CHECK(contains(csv_error("name,renew_at\na.example.com,soon\n"),
                   "domains.csv:2: renew_at: \"soon\""));
    e = csv_error("name,not_after,renew_at\na.example.com,2026-06-01,2026-06-02\n");
    CHECK(contains(
        e,
        "domains.csv:2: renew_at: 2026-06-02T00:00:00Z is after not_after 2026-06-01T00:00:00Z"));
    // Renewing exactly at expiry is late but not contradictory.
    CHECK(csv_ok("name,not_after,renew_at\na.example.com,2026-06-01,2026-06-01\n").size() == 1);
  }
  SUBCASE("CA names must be configured") {
    std::string e = csv_error("name,ca\na.example.com,letsencrypt;zerossl\n");
    CHECK(contains(
        e,
        "domains.csv:2: ca: unknown CA \"zerossl\"; the configured CAs are letsencrypt, digicert"));
    CHECK(
        contains(csv_error("name,ca\na.example.com,LetsEncrypt\n"), "unknown CA \"LetsEncrypt\""));
    CHECK(contains(csv_error("name,ca\na.example.com,letsencrypt;;digicert\n"),
                   "domains.csv:2: ca: an empty CA name"));
    CHECK(contains(csv_error("name,ca\na.example.com,digicert;digicert\n"),
                   "domains.csv:2: ca: names \"digicert\" twice"));
  }
  SUBCASE("wildcard") {
    CHECK(contains(
        csv_error("name,wildcard\n*.example.com,false\n"),
        "domains.csv:2: wildcard: is false, but the name \"*.example.com\" is a wildcard"));
    CHECK(contains(csv_error("name,wildcard\nexample.com,maybe\n"),
                   "domains.csv:2: wildcard: \"maybe\" is not true, false, 1, 0, yes or no"));
    auto specs = csv_ok(
        "name,wildcard\n*.a.example,true\n*.b.example,\nc.example,1\nd.example,0\ne.example,Yes\n");
    REQUIRE(specs.size() == 5);
    CHECK(specs[0].request.text() == "*.a.example");
    CHECK(specs[1].request.text() == "*.b.example");
    CHECK(specs[2].request.text() == "*.c.example");
    CHECK(specs[3].request.text() == "d.example");
    CHECK(specs[4].request.text() == "*.e.example");
  }
  SUBCASE("wildcard=true applies the length limit to the whole \"*.x\"") {
    std::string label(63, 'a');
    std::string long_name =
        label + "." + label + "." + label + "." + std::string(61, 'b');  // 253 octets
    CHECK(csv_ok("name\n" + long_name + "\n").size() == 1);
    CHECK(contains(csv_error("name,wildcard\n" + long_name + ",true\n"), "domains.csv:2: name: "));
  }
}

TEST_CASE("the same domain twice is an error naming both lines") {
  CHECK(contains(csv_error("name\na.example.com\nb.example.com\n\nA.EXAMPLE.COM.\n"),
                 "domains.csv:5: name: \"a.example.com\" appears twice, on lines 2 and 5"));
  CHECK(contains(csv_error("name,wildcard\n*.example.com,\nexample.com,true\n"),
                 "domains.csv:3: name: \"*.example.com\" appears twice, on lines 2 and 3"));
  // A name and its wildcard are two certificates.
  CHECK(csv_ok("name\nexample.com\n*.example.com\n").size() == 2);
  CHECK(contains(
      jsonl_error(
          "{\"name\":\"a.example\"}\n{\"name\":\"b.example\"}\n{\"name\":\"a.example.\"}\n"),
      "domains.jsonl:3: name: \"a.example\" appears twice, on lines 1 and 3"));
}

TEST_CASE("IDN names are stored as A-labels") {
  auto specs = csv_ok("name\nbücher.example\n*.BÜCHER.example.org\n");
  REQUIRE(specs.size() == 2);
  CHECK(specs[0].request.text() == "xn--bcher-kva.example");
  CHECK(specs[1].request.text() == "*.xn--bcher-kva.example.org");
  // The U-label and the A-label are one domain.
  CHECK(contains(csv_error("name\nbücher.example\nxn--bcher-kva.example\n"),
                 "appears twice, on lines 2 and 3"));
  auto json = jsonl_ok("{\"name\":\"b\\u00fccher.example\"}\n");
  REQUIRE(json.size() == 1);
  CHECK(json[0].request.text() == "xn--bcher-kva.example");
}

TEST_CASE("JSON Lines: one object per line") {
  auto specs = jsonl_ok(
      "{\"name\":\"a.example.com\",\"ca\":\"letsencrypt\",\"not_after\":\"2026-06-01T00:00:00Z\"}\n"
      "\n"
      "{\"name\":\"*.b.example.com\",\"ca\":[\"digicert\",\"letsencrypt\"],\"renew_at\":null,\"not_"
      "after\":null}\r\n"
      "  "
      "{\"name\":\"c.example.com\",\"wildcard\":true,\"enabled\":false,\"renew_at\":\"2026-05-01\"}"
      "  \n"
      "{\"name\":\"d.example.com\",\"ca\":\"letsencrypt;digicert\",\"wildcard\":false}");
  REQUIRE(specs.size() == 4);
  CHECK(specs[0].cas == std::vector<std::string>{"letsencrypt"});
  CHECK(specs[0].not_after == ts("2026-06-01"));
  CHECK(specs[1].request.text() == "*.b.example.com");
  CHECK(specs[1].cas == std::vector<std::string>{"digicert", "letsencrypt"});
  CHECK_FALSE(specs[1].not_after);
  CHECK(specs[2].request.text() == "*.c.example.com");
  CHECK_FALSE(specs[2].enabled);
  CHECK(specs[2].renew_at == ts("2026-05-01"));
  CHECK(specs[3].cas.size() == 2);
  CHECK(jsonl_ok("").empty());
  CHECK(jsonl_ok("\n\n  \n").empty());
  CHECK(jsonl_ok("\xEF\xBB\xBF{\"name\":\"a.example\"}\n").size() == 1);
}

TEST_CASE("JSON Lines errors name the line and the key") {
  CHECK(contains(
      jsonl_error(
          "{\"name\":\"a.example\"}\n{\"name\":\"b.example\",\"expires\":\"2026-01-01\"}\n"),
      "domains.jsonl:2: unknown key \"expires\"; the keys are name, wildcard, ca, not_after, "
      "renew_at, enabled"));
  CHECK(contains(jsonl_error("{\"name\":\"a.example\"\n"),
                 "domains.jsonl:1: not valid JSON: \"{\\\"name\\\":"));
  CHECK(contains(jsonl_error("[\"a.example\"]\n"),
                 "domains.jsonl:1: expected a JSON object with a \"name\", found array"));
  CHECK(contains(jsonl_error("\"a.example\"\n"), "found string"));
  CHECK(contains(jsonl_error("{\"ca\":\"letsencrypt\"}\n"), "domains.jsonl:1: name: is missing"));
  CHECK(contains(jsonl_error("{\"name\":7}\n"),
                 "domains.jsonl:1: name: must be a string, found number"));
  CHECK(contains(jsonl_error("{\"name\":\"a.example\",\"wildcard\":\"yes\"}\n"),
                 "domains.jsonl:1: wildcard: must be true or false, found string"));
  CHECK(contains(jsonl_error("{\"name\":\"*.a.example\",\"wildcard\":false}\n"),
                 "wildcard: is false"));
  CHECK(contains(jsonl_error("{\"name\":\"a.example\",\"enabled\":1}\n"),
                 "enabled: must be true or false"));
  CHECK(contains(jsonl_error("{\"name\":\"a.example\",\"ca\":[\"letsencrypt\",3]}\n"),
                 "ca: the list must hold strings, found number"));
  CHECK(contains(jsonl_error("{\"name\":\"a.example\",\"ca\":{}}\n"),
                 "ca: must be a string or a list of strings"));
  CHECK(contains(jsonl_error("{\"name\":\"a.example\",\"ca\":[\"zerossl\"]}\n"),
                 "ca: unknown CA \"zerossl\""));
  CHECK(contains(jsonl_error("{\"name\":\"a.example\",\"not_after\":20260101}\n"),
                 "not_after: must be a date string or null, found number"));
  CHECK(jsonl_error("\n\n{\"name\":\"a.example\",\"renew_at\":\"2026-02-30\"}\n")
            .starts_with("domains.jsonl:3: renew_at: \"2026-02-30\""));
  CHECK(contains(
      jsonl_error(
          "{\"name\":\"a.example\",\"not_after\":\"2026-01-01\",\"renew_at\":\"2026-02-01\"}\n"),
      "renew_at: 2026-02-01T00:00:00Z is after not_after"));
  CHECK(contains(jsonl_error("{\"name\":\"bad_name.example\"}\n"),
                 "domains.jsonl:1: name: \"bad_name.example\""));
}

TEST_CASE("one bad line rejects the whole file") {
  std::string text = "name\n";
  for (int i = 0; i < 50; ++i) text += "d" + std::to_string(i) + ".example.com\n";
  text += "not a name\n";
  CHECK(contains(csv_error(text), "domains.csv:52: name: "));
}

TEST_CASE("100,000-line imports") {
  constexpr int k_lines = 100'000;
  std::string csv = "name,wildcard,ca,not_after,renew_at\r\n";
  std::string jsonl;
  for (int i = 0; i < k_lines; ++i) {
    const std::string name =
        "shop" + std::to_string(i) + ".customer" + std::to_string(i % 977) + ".example";
    csv +=
        name + "," + (i % 3 == 0 ? "true" : "") + ",letsencrypt;digicert,2026-09-01T12:00:00Z,\r\n";
    jsonl += "{\"name\":\"" + name + "\",\"wildcard\":" + (i % 3 == 0 ? "true" : "false") +
             ",\"ca\":[\"letsencrypt\"],\"not_after\":\"2026-09-01\",\"renew_at\":null}\n";
  }

  auto start = std::chrono::steady_clock::now();
  auto from_csv = parse_text(csv, Format::csv);
  auto csv_time = std::chrono::steady_clock::now() - start;
  REQUIRE(from_csv.has_value());
  CHECK(from_csv->size() == k_lines);
  CHECK(from_csv->back().request.text() == "*.shop99999.customer345.example");

  start = std::chrono::steady_clock::now();
  auto from_jsonl = parse_text(jsonl, Format::jsonl, "domains.jsonl");
  auto jsonl_time = std::chrono::steady_clock::now() - start;
  REQUIRE(from_jsonl.has_value());
  CHECK(from_jsonl->size() == k_lines);
  CHECK(from_jsonl->front().request.text() == "*.shop0.customer0.example");

  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  MESSAGE("100,000 lines: CSV " << duration_cast<milliseconds>(csv_time).count()
                                << " ms, JSON Lines "
                                << duration_cast<milliseconds>(jsonl_time).count() << " ms");

  // A duplicate at the very end is still found, with both lines.
  csv += "shop5.customer5.example,,,,\r\n";
  CHECK(contains(
      csv_error(csv),
      "domains.csv:100002: name: \"shop5.customer5.example\" appears twice, on lines 7 and "
      "100002"));
}
