// Tests for lib/caa/policy: every RFC 8659 / RFC 8657 rule the issue lists,
// the RFC examples, and each place where Let's Encrypt reads them more
// strictly. Each table row states the verdict under all three readings, so a
// rule broken in any one of them fails a row.
#include "lib/caa/policy.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

using namespace caad::caa;

namespace {

Record rec(std::uint8_t flags, std::string tag, std::string value) {
  return Record{flags, std::move(tag), std::move(value)};
}

constexpr Verdict P = Verdict::permitted;
constexpr Verdict D = Verdict::denied;

struct Case {
  const char* name;
  std::vector<Record> records;
  bool wildcard;
  Verdict rfc;     // Behaviour::rfc8659
  Verdict le;      // Behaviour::letsencrypt
  Verdict strict;  // Behaviour::strictest
  Outcome outcome;                  // under the strictest reading
  std::optional<std::size_t> deciding;  // under the strictest reading
  std::string issuer = "letsencrypt.org";
  std::optional<std::string> account = std::nullopt;
  std::optional<std::string> method = std::nullopt;
};

Decision run(const Case& c, Behaviour b) {
  CaProfile ca{c.issuer, c.account, c.method, b};
  Request req{c.wildcard ? "*.example.com" : "example.com", c.wildcard, "example.com"};
  return evaluate(c.records, ca, req);
}

void check_table(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Decision rfc = run(c, Behaviour::rfc8659);
    Decision le = run(c, Behaviour::letsencrypt);
    Decision strict = run(c, Behaviour::strictest);
    CHECK(rfc.verdict == c.rfc);
    CHECK(le.verdict == c.le);
    CHECK(strict.verdict == c.strict);
    CHECK(strict.outcome == c.outcome);
    CHECK(strict.deciding_record == c.deciding);
    CHECK(strict.findings.size() == c.records.size());
    CHECK_FALSE(strict.sentence.empty());
    // The divergence note appears exactly when the two CA readings disagree.
    CHECK(strict.divergence.has_value() == (c.rfc != c.le));
    // The strictest reading never permits what either reading denies.
    if (c.rfc == D || c.le == D) CHECK(strict.verdict == D);
  }
}

const std::string k_acct = "https://acme-v02.api.letsencrypt.org/acme/acct/123";
const std::string k_other_acct = "https://acme-v02.api.letsencrypt.org/acme/acct/999";

}  // namespace

TEST_CASE("empty set and sets without an applicable property") {
  check_table({
      {"no records at all", {}, false, P, P, P, Outcome::no_records, std::nullopt},
      {"iodef only", {rec(0, "iodef", "mailto:sec@example.com")}, false, P, P, P,
       Outcome::no_applicable_property, std::nullopt},
      {"issuewild only, plain name", {rec(0, "issuewild", ";")}, false, P, P, P,
       Outcome::no_applicable_property, std::nullopt},
      {"unknown non-critical tag only", {rec(0, "tbs", "Unknown")}, false, P, P, P,
       Outcome::no_applicable_property, std::nullopt},
      {"contactemail non-critical only", {rec(0, "contactemail", "a@example.com")}, false, P, P, P,
       Outcome::no_applicable_property, std::nullopt},
      {"issuemail and issuevmc only", {rec(0, "issuemail", ";"), rec(0, "issuevmc", ";")}, false, P, P, P,
       Outcome::no_applicable_property, std::nullopt},
  });
}

TEST_CASE("critical flag with unknown and recognised tags") {
  check_table({
      // RFC 8659 §4.5: an issue that permits, plus a critical unknown tag: nobody issues.
      {"RFC 8659 4.5 example", {rec(0, "issue", "letsencrypt.org"), rec(128, "tbs", "Unknown")}, false, D,
       D, D, Outcome::critical_unknown_tag, 1},
      {"critical unknown alone", {rec(128, "tbs", "Unknown")}, false, D, D, D, Outcome::critical_unknown_tag,
       0},
      {"critical unknown beats issuewild for wildcard",
       {rec(0, "issuewild", "letsencrypt.org"), rec(128, "future", "x")}, true, D, D, D,
       Outcome::critical_unknown_tag, 1},
      {"all flag bits set on unknown tag", {rec(255, "tbs", "x")}, false, D, D, D,
       Outcome::critical_unknown_tag, 0},
      {"critical issue is just issue", {rec(128, "issue", "letsencrypt.org")}, false, P, P, P,
       Outcome::authorized, 0},
      {"critical issuewild", {rec(128, "issuewild", "letsencrypt.org")}, true, P, P, P, Outcome::authorized,
       0},
      {"critical iodef", {rec(128, "iodef", "mailto:a@example.com"), rec(0, "issue", "letsencrypt.org")},
       false, P, P, P, Outcome::authorized, 1},
      {"critical issuemail", {rec(128, "issuemail", "x"), rec(0, "issue", "letsencrypt.org")}, false, P, P,
       P, Outcome::authorized, 1},
      {"critical issuevmc", {rec(128, "issuevmc", "x"), rec(0, "issue", "letsencrypt.org")}, false, P, P, P,
       Outcome::authorized, 1},
      // BR Appendix A tags: processed under the RFC/BR reading, unknown to Let's Encrypt.
      {"critical contactemail", {rec(128, "contactemail", "a@example.com"), rec(0, "issue", "letsencrypt.org")},
       false, P, D, D, Outcome::critical_unknown_tag, 0},
      {"critical contactphone", {rec(128, "contactphone", "+1 555 0100"), rec(0, "issue", "letsencrypt.org")},
       false, P, D, D, Outcome::critical_unknown_tag, 0},
      // Reserved flag bit value 1: ignored by the RFC, critical for Let's Encrypt.
      {"flag 1 on unknown tag", {rec(1, "tbs", "x"), rec(0, "issue", "letsencrypt.org")}, false, P, D, D,
       Outcome::critical_unknown_tag, 0},
      {"flag 1 on issue", {rec(1, "issue", "letsencrypt.org")}, false, P, P, P, Outcome::authorized, 0},
      {"other reserved bits on unknown tag", {rec(0x7e, "tbs", "x"), rec(0, "issue", "letsencrypt.org")}, false,
       P, P, P, Outcome::authorized, 1},
      {"tag with a hyphen is unknown", {rec(128, "is-sue", "letsencrypt.org")}, false, D, D, D,
       Outcome::critical_unknown_tag, 0},
  });
}

TEST_CASE("tags compare case-insensitively") {
  check_table({
      {"ISSUE", {rec(0, "ISSUE", "letsencrypt.org")}, false, P, P, P, Outcome::authorized, 0},
      {"IsSuE denies", {rec(0, "IsSuE", "digicert.com")}, false, D, D, D, Outcome::not_authorized, 0},
      {"ISSUEWILD for wildcard", {rec(0, "ISSUEWILD", "letsencrypt.org"), rec(0, "issue", ";")}, true, P, P, P,
       Outcome::authorized, 0},
      {"critical IODEF is known", {rec(128, "IODEF", "mailto:a@example.com")}, false, P, P, P,
       Outcome::no_applicable_property, std::nullopt},
      {"critical CONTACTEMAIL", {rec(128, "CONTACTEMAIL", "a@example.com")}, false, P, D, D,
       Outcome::critical_unknown_tag, 0},
  });
}

TEST_CASE("issuer-domain matching") {
  check_table({
      {"exact", {rec(0, "issue", "letsencrypt.org")}, false, P, P, P, Outcome::authorized, 0},
      {"other CA", {rec(0, "issue", "digicert.com")}, false, D, D, D, Outcome::not_authorized, 0},
      {"suffix is not a match", {rec(0, "issue", "org")}, false, D, D, D, Outcome::not_authorized, 0},
      {"subdomain is not a match", {rec(0, "issue", "ca.letsencrypt.org")}, false, D, D, D,
       Outcome::not_authorized, 0},
      {"prefix trick", {rec(0, "issue", "evilletsencrypt.org")}, false, D, D, D, Outcome::not_authorized, 0},
      // Letter case: domain names compare case-insensitively, Let's Encrypt byte for byte.
      {"mixed case issuer", {rec(0, "issue", "LetsEncrypt.ORG")}, false, P, D, D, Outcome::not_authorized, 0},
      {"trailing dot breaks the grammar", {rec(0, "issue", "letsencrypt.org.")}, false, D, D, D,
       Outcome::not_authorized, 0},
      {"whitespace around issuer", {rec(0, "issue", " \tletsencrypt.org \t")}, false, P, P, P,
       Outcome::authorized, 0},
  });
}

TEST_CASE("empty issuer, unparseable values, and records adding up") {
  check_table({
      {"issue \";\"", {rec(0, "issue", ";")}, false, D, D, D, Outcome::not_authorized, 0},
      {"issue \"\"", {rec(0, "issue", "")}, false, D, D, D, Outcome::not_authorized, 0},
      {"RFC %%%%% example", {rec(0, "issue", "%%%%%")}, false, D, D, D, Outcome::not_authorized, 0},
      {"unparseable plus permitting", {rec(0, "issue", "%%%%%"), rec(0, "issue", "letsencrypt.org")}, false, P,
       P, P, Outcome::authorized, 1},
      {"empty issuer plus real issuer adds up", {rec(0, "issue", ";"), rec(0, "issue", "letsencrypt.org")},
       false, P, P, P, Outcome::authorized, 1},
      {"RFC 8659 4.2: two CAs", {rec(0, "issue", "ca1.example.net"), rec(0, "issue", "letsencrypt.org")},
       false, P, P, P, Outcome::authorized, 1},
      {"two other CAs", {rec(0, "issue", "ca1.example.net"), rec(0, "issue", "ca2.example.org")}, false, D, D,
       D, Outcome::not_authorized, 0},
      {"unknown parameter is ignored", {rec(0, "issue", "letsencrypt.org; account=230123")}, false, P, P, P,
       Outcome::authorized, 0},
      // Let's Encrypt rejects a hyphenated parameter tag, so the record authorizes nobody.
      {"hyphenated parameter tag", {rec(0, "issue", "letsencrypt.org; a-b=c")}, false, P, D, D,
       Outcome::not_authorized, 0},
      {"trailing ; after a parameter", {rec(0, "issue", "letsencrypt.org; a=b;")}, false, D, D, D,
       Outcome::not_authorized, 0},
      {"the blocking record is the one naming our CA",
       {rec(0, "issue", "digicert.com"), rec(0, "issue", "letsencrypt.org; validationmethods=dns-01")}, false,
       D, D, D, Outcome::not_authorized, 1, "letsencrypt.org", std::nullopt, std::string("http-01")},
  });
}

TEST_CASE("issuewild precedence for wildcard names, ignored otherwise") {
  check_table({
      // RFC 8659 §4.3 examples: wild1, wild2, wild3.
      {"wild1 plain", {rec(0, "issue", "letsencrypt.org")}, false, P, P, P, Outcome::authorized, 0},
      {"wild1 wildcard", {rec(0, "issue", "letsencrypt.org")}, true, P, P, P, Outcome::authorized, 0},
      {"wild2 plain, ca1", {rec(0, "issue", "letsencrypt.org"), rec(0, "issuewild", "ca2.example.org")}, false,
       P, P, P, Outcome::authorized, 0},
      {"wild2 wildcard, ca1", {rec(0, "issue", "letsencrypt.org"), rec(0, "issuewild", "ca2.example.org")},
       true, D, D, D, Outcome::not_authorized, 1},
      {"wild2 wildcard, ca2", {rec(0, "issue", "ca1.example.net"), rec(0, "issuewild", "letsencrypt.org")},
       true, P, P, P, Outcome::authorized, 1},
      {"wild2 plain, ca2", {rec(0, "issue", "ca1.example.net"), rec(0, "issuewild", "letsencrypt.org")}, false,
       D, D, D, Outcome::not_authorized, 0},
      {"wild3 wildcard", {rec(0, "issuewild", "letsencrypt.org"), rec(0, "issue", ";")}, true, P, P, P,
       Outcome::authorized, 0},
      {"wild3 plain", {rec(0, "issuewild", "letsencrypt.org"), rec(0, "issue", ";")}, false, D, D, D,
       Outcome::not_authorized, 1},
      {"issuewild \";\" forbids wildcards only", {rec(0, "issuewild", ";"), rec(0, "issue", "letsencrypt.org")},
       true, D, D, D, Outcome::not_authorized, 0},
      {"unparseable issuewild still takes precedence",
       {rec(0, "issuewild", "%%%"), rec(0, "issue", "letsencrypt.org")}, true, D, D, D, Outcome::not_authorized,
       0},
      {"wildcard with issue only", {rec(0, "issue", "digicert.com")}, true, D, D, D, Outcome::not_authorized, 0},
      {"wildcard, iodef only", {rec(0, "iodef", "mailto:a@example.com")}, true, P, P, P,
       Outcome::no_applicable_property, std::nullopt},
  });
}

TEST_CASE("RFC 8657 accounturi") {
  const auto A = k_acct;
  check_table({
      {"matching account", {rec(0, "issue", "letsencrypt.org; accounturi=" + A)}, false, P, P, P,
       Outcome::authorized, 0, "letsencrypt.org", A},
      {"other account", {rec(0, "issue", "letsencrypt.org; accounturi=" + k_other_acct)}, false, D, D, D,
       Outcome::not_authorized, 0, "letsencrypt.org", A},
      {"no accounturi matches any account", {rec(0, "issue", "letsencrypt.org")}, false, P, P, P,
       Outcome::authorized, 0, "letsencrypt.org", A},
      {"our account unknown cannot be proven", {rec(0, "issue", "letsencrypt.org; accounturi=" + A)}, false, D,
       D, D, Outcome::not_authorized, 0},
      {"repeated accounturi is unsatisfiable",
       {rec(0, "issue", "letsencrypt.org; accounturi=" + A + "; accounturi=" + A)}, false, D, D, D,
       Outcome::not_authorized, 0, "letsencrypt.org", A},
      {"account of another CA's record", {rec(0, "issue", "digicert.com; accounturi=" + A)}, false, D, D, D,
       Outcome::not_authorized, 0, "letsencrypt.org", A},
      {"parameter tag case", {rec(0, "issue", "letsencrypt.org; AccountURI=" + k_other_acct)}, false, D, D, D,
       Outcome::not_authorized, 0, "letsencrypt.org", A},
      {"RFC 8657: two records, two accounts",
       {rec(0, "issue", "letsencrypt.org; accounturi=" + k_other_acct),
        rec(0, "issue", "letsencrypt.org; accounturi=" + A)},
       false, P, P, P, Outcome::authorized, 1, "letsencrypt.org", A},
      {"accounturi compares exactly", {rec(0, "issue", "letsencrypt.org; accounturi=" + A + "/")}, false, D, D,
       D, Outcome::not_authorized, 0, "letsencrypt.org", A},
  });
}

TEST_CASE("RFC 8657 validationmethods") {
  const auto A = k_acct;
  const std::optional<std::string> http = std::string("http-01");
  const std::optional<std::string> dns = std::string("dns-01");
  check_table({
      {"method listed", {rec(0, "issue", "letsencrypt.org; validationmethods=http-01")}, false, P, P, P,
       Outcome::authorized, 0, "letsencrypt.org", std::nullopt, http},
      {"method not listed", {rec(0, "issue", "letsencrypt.org; validationmethods=dns-01")}, false, D, D, D,
       Outcome::not_authorized, 0, "letsencrypt.org", std::nullopt, http},
      {"RFC 8657: dns-01,xyz-01 list", {rec(0, "issue", "letsencrypt.org; validationmethods=dns-01,xyz-01")},
       false, P, P, P, Outcome::authorized, 0, "letsencrypt.org", std::nullopt, dns},
      {"empty list matches nothing", {rec(0, "issue", "letsencrypt.org; validationmethods=")}, false, D, D, D,
       Outcome::not_authorized, 0, "letsencrypt.org", std::nullopt, http},
      {"malformed list matches nothing", {rec(0, "issue", "letsencrypt.org; validationmethods=http_01")}, false,
       D, D, D, Outcome::not_authorized, 0, "letsencrypt.org", std::nullopt, std::string("http_01")},
      {"our method unknown cannot be proven", {rec(0, "issue", "letsencrypt.org; validationmethods=http-01")},
       false, D, D, D, Outcome::not_authorized, 0},
      {"no validationmethods matches any method", {rec(0, "issue", "letsencrypt.org")}, false, P, P, P,
       Outcome::authorized, 0, "letsencrypt.org", std::nullopt, http},
      // RFC 8657 is silent; Let's Encrypt treats a repeated parameter as unsatisfiable.
      {"repeated validationmethods, both list ours",
       {rec(0, "issue", "letsencrypt.org; validationmethods=http-01; validationmethods=http-01,dns-01")}, false,
       P, D, D, Outcome::not_authorized, 0, "letsencrypt.org", std::nullopt, http},
      {"repeated validationmethods, one excludes ours",
       {rec(0, "issue", "letsencrypt.org; validationmethods=http-01; validationmethods=dns-01")}, false, D, D,
       D, Outcome::not_authorized, 0, "letsencrypt.org", std::nullopt, http},
      // RFC 8657: account 1 only with dns-01, account 2 only with http-01.
      {"account and method per record, ours matches second",
       {rec(0, "issue", "letsencrypt.org; accounturi=" + k_other_acct + "; validationmethods=dns-01"),
        rec(0, "issue", "letsencrypt.org; accounturi=" + A + "; validationmethods=http-01")},
       false, P, P, P, Outcome::authorized, 1, "letsencrypt.org", A, http},
      {"account and method per record, our account with the wrong method",
       {rec(0, "issue", "letsencrypt.org; accounturi=" + k_other_acct + "; validationmethods=http-01"),
        rec(0, "issue", "letsencrypt.org; accounturi=" + A + "; validationmethods=dns-01")},
       false, D, D, D, Outcome::not_authorized, 0, "letsencrypt.org", A, http},
      {"issuewild with validationmethods for wildcard",
       {rec(0, "issuewild", "letsencrypt.org; validationmethods=dns-01")}, true, P, P, P, Outcome::authorized,
       0, "letsencrypt.org", std::nullopt, dns},
  });
}

TEST_CASE("the sentence names the record, the place and the remedy") {
  CaProfile le{"letsencrypt.org", std::nullopt, std::nullopt, Behaviour::letsencrypt};
  Request req{"shop.customer.example", false, "customer.example"};

  std::vector<Record> deny = {rec(0, "issue", "digicert.com")};
  Decision d = evaluate(deny, le, req);
  CHECK(d.sentence ==
        "The CAA records at customer.example allow only digicert.com to issue for shop.customer.example, not "
        "letsencrypt.org; add `0 issue \"letsencrypt.org\"` at customer.example to allow it.");

  std::vector<Record> nobody = {rec(0, "issue", ";")};
  CHECK(evaluate(nobody, le, req).sentence.find("forbids every CA") != std::string::npos);

  std::vector<Record> crit = {rec(128, "tbs", "Unknown")};
  d = evaluate(crit, le, req);
  CHECK(d.sentence.find("`128 tbs \"Unknown\"` at customer.example is marked critical") != std::string::npos);

  std::vector<Record> ok = {rec(0, "issue", "letsencrypt.org")};
  CHECK(evaluate(ok, le, req).sentence ==
        "The CAA record `0 issue \"letsencrypt.org\"` at customer.example allows letsencrypt.org to issue for "
        "shop.customer.example.");

  std::vector<Record> none;
  CHECK(evaluate(none, le, req).sentence.find("No CAA records apply to shop.customer.example") == 0);

  Request wild{"*.customer.example", true, "customer.example"};
  CHECK(evaluate(deny, le, wild).sentence.find("add `0 issuewild \"letsencrypt.org\"`") != std::string::npos);

  std::vector<Record> acct = {rec(0, "issue", "letsencrypt.org; accounturi=" + k_other_acct)};
  CaProfile with_acct = le;
  with_acct.account_uri = k_acct;
  d = evaluate(acct, with_acct, req);
  CHECK(d.sentence.find("allows only ACME account " + k_other_acct + ", not ours (" + k_acct + ")") !=
        std::string::npos);

  std::vector<Record> mixed_case = {rec(0, "issue", "LetsEncrypt.ORG")};
  d = evaluate(mixed_case, le, req);
  CHECK(d.sentence.find("only in letter case") != std::string::npos);
  REQUIRE(d.divergence.has_value());
  CHECK(d.divergence->find("RFC 8659 permits, but Let's Encrypt's implementation refuses") != std::string::npos);
}

TEST_CASE("findings describe every record") {
  std::vector<Record> records = {rec(0, "issue", "digicert.com"), rec(0, "issuewild", "letsencrypt.org"),
                                 rec(0, "iodef", "mailto:a@example.com"), rec(0, "issue", "letsencrypt.org")};
  CaProfile ca{"letsencrypt.org", std::nullopt, std::nullopt, Behaviour::strictest};
  Decision plain = evaluate(records, ca, Request{"example.com", false, ""});
  CHECK(plain.findings[0].role == Role::other_issuer);
  CHECK(plain.findings[1].role == Role::ignored_issuewild);
  CHECK(plain.findings[2].role == Role::not_applicable);
  CHECK(plain.findings[3].role == Role::authorizes);
  Decision wild = evaluate(records, ca, Request{"*.example.com", true, ""});
  CHECK(wild.findings[0].role == Role::ignored_issue);
  CHECK(wild.findings[1].role == Role::authorizes);
  CHECK(wild.findings[3].role == Role::ignored_issue);
}

TEST_CASE("behaviour names") {
  for (Behaviour b : {Behaviour::rfc8659, Behaviour::letsencrypt, Behaviour::strictest}) {
    CHECK(parse_behaviour(to_string(b)) == b);
  }
  CHECK_FALSE(parse_behaviour("LetsEncrypt").has_value());
  CHECK_FALSE(parse_behaviour("").has_value());
}

TEST_CASE("a long list of other issuers is cut in the sentence") {
  std::vector<Record> records;
  for (int i = 0; i < 60; ++i) records.push_back(rec(0, "issue", "ca" + std::to_string(i) + ".example.net"));
  CaProfile ca{"letsencrypt.org", std::nullopt, std::nullopt, Behaviour::strictest};
  Decision d = evaluate(records, ca, Request{"example.com", false, "example.com"});
  CHECK(d.verdict == Verdict::denied);
  CHECK(d.sentence.find("allow only ca0.example.net, ca1.example.net, ca2.example.net, ca3.example.net, "
                        "ca4.example.net, and 55 more to issue") != std::string::npos);
}
