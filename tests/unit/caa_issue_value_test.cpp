// Tests for lib/caa/issue_value: the RFC 8659 §4.2 issue-value grammar and the
// RFC 8657 validationmethods list.
#include "lib/caa/issue_value.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using caad::caa::IssueValue;
using caad::caa::Parameter;
using caad::caa::parse_issue_value;
using caad::caa::parse_validation_methods;

TEST_CASE("issue values that match the grammar") {
  struct Case {
    std::string text;
    IssueValue want;
  };
  const std::vector<Case> cases = {
      {"letsencrypt.org", {"letsencrypt.org", {}}},
      {"  letsencrypt.org\t", {"letsencrypt.org", {}}},
      {"LetsEncrypt.ORG", {"LetsEncrypt.ORG", {}}},  // case kept; the policy decides
      {"ca-1.example", {"ca-1.example", {}}},
      {"a--b.example", {"a--b.example", {}}},  // inner hyphens may repeat
      {"com", {"com", {}}},
      {";", {"", {}}},
      {"", {"", {}}},
      {"   ", {"", {}}},
      {" ; ", {"", {}}},
      {"ca.example;", {"ca.example", {}}},
      {"ca.example ;", {"ca.example", {}}},
      {"ca1.example.net; account=230123", {"ca1.example.net", {{"account", "230123"}}}},
      {"ca.example; a=b; c=d", {"ca.example", {{"a", "b"}, {"c", "d"}}}},
      {"ca.example;a=b;c=d", {"ca.example", {{"a", "b"}, {"c", "d"}}}},
      {"ca.example ; a = b ;\tc\t=\td ", {"ca.example", {{"a", "b"}, {"c", "d"}}}},
      {"ca.example; a=", {"ca.example", {{"a", ""}}}},              // empty value is allowed
      {"ca.example; a=x=y", {"ca.example", {{"a", "x=y"}}}},        // '=' may appear in a value
      {"ca.example; a-b=c", {"ca.example", {{"a-b", "c"}}}},        // hyphen in a tag: RFC allows
      {"ca.example; 1a=c", {"ca.example", {{"1a", "c"}}}},
      {"; a=b", {"", {{"a", "b"}}}},
      {"example.net; accounturi=https://example.net/account/1234",
       {"example.net", {{"accounturi", "https://example.net/account/1234"}}}},
      {"example.net; validationmethods=dns-01,xyz-01",
       {"example.net", {{"validationmethods", "dns-01,xyz-01"}}}},
      {"ca.example; a=!\"#$%&'()*+,-./0123456789:<=>?@[\\]^_`{|}~",
       {"ca.example", {{"a", "!\"#$%&'()*+,-./0123456789:<=>?@[\\]^_`{|}~"}}}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto got = parse_issue_value(c.text);
    REQUIRE(got.has_value());
    CHECK(got->issuer == c.want.issuer);
    CHECK(got->parameters == c.want.parameters);
  }
}

TEST_CASE("issue values that break the grammar are rejected with the reason") {
  struct Case {
    std::string text;
    std::string expect_in_message;
  };
  const std::vector<Case> cases = {
      {"%%%%%", "expected an issuer domain or ';' at position 1 ('%')"},  // RFC 8659 §4.2
      {"letsencrypt.org.", "ends with a dot"},
      {".letsencrypt.org", "invalid label \"\""},
      {"lets..encrypt.org", "invalid label \"\""},
      {"-ca.example", "invalid label \"-ca\""},
      {"ca-.example", "invalid label \"ca-\""},
      {"ca_1.example", "not a letter, digit, hyphen or dot at position 3 ('_')"},
      {"ca.example foo", "expected ';' after the issuer domain"},
      {"ca.example; a", "expected '=' after parameter tag \"a\""},
      {"ca.example; =b", "expected a parameter tag"},
      {"ca.example; -a=b", "parameter tag \"-a\" must start and end with a letter or digit"},
      {"ca.example; a-=b", "must start and end with a letter or digit"},
      {"ca.example; a_b=c", "expected '=' after parameter tag \"a\""},
      {"ca.example; a=b c=d", "expected ';' or the end after the value of parameter \"a\""},
      {"ca.example; a=b;", "expected a parameter after ';'"},
      {"ca.example; a=b; ", "expected a parameter after ';'"},
      {"ca.example;;", "expected a parameter tag"},
      {"ca.example; a=\x01", "octet 0x01"},
      {"ca.\xc3\xa9xample", "octet 0xc3"},
      {"ca.example; a=b\xff", "octet 0xff"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto got = parse_issue_value(c.text);
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error().message.find(c.expect_in_message) != std::string::npos);
    // The message quotes the value it is about.
    CHECK(got.error().message.rfind("issue value \"", 0) == 0);
  }
}

TEST_CASE("validationmethods lists") {
  using List = std::vector<std::string>;
  CHECK(parse_validation_methods("dns-01") == List{"dns-01"});
  CHECK(parse_validation_methods("dns-01,http-01,tls-alpn-01") == List{"dns-01", "http-01", "tls-alpn-01"});
  CHECK(parse_validation_methods("ca-custom") == List{"ca-custom"});
  CHECK(parse_validation_methods("") == List{});  // valid and matches nothing
  for (const char* bad : {",", "dns-01,", ",dns-01", "dns-01,,http-01", "dns_01", "-dns", "dns-",
                          "dns-01 ,http-01", "dns-01;x"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_validation_methods(bad).has_value());
  }
}

TEST_CASE("error messages escape raw octets from the value") {
  using namespace std::string_literals;
  auto got = parse_issue_value("ca.example; a=b\0c\x1b"s);
  REQUIRE_FALSE(got.has_value());
  const std::string& m = got.error().message;
  CHECK(m.find('\0') == std::string::npos);
  CHECK(m.find('\x1b') == std::string::npos);
  CHECK(m.find("\\x00") != std::string::npos);
}
