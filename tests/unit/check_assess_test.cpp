// Tests for lib/check: per-CA verdicts from a lookup result, the worst
// verdict, exposure (pinned/exposed), the TLD-NXDOMAIN difference between CA
// readings, and the JSON fields `caad check --json` promises.
#include <doctest/doctest.h>

#include "lib/check/check.h"
#include "lib/caa/policy_json.h"
#include "lib/check/check_json.h"

using namespace caad;
using check::Exposure;
using check::Verdict;

namespace {

dns::Name name(const char* text) { return *dns::Name::parse(text); }

lookup::LookupResult found(const char* domain, const char* at, const char* owner, std::vector<caa::Record> records,
                           std::vector<dns::Name> chain = {}) {
  lookup::LookupResult r(*dns::parse_domain(domain));
  r.found_at = name(at);
  r.relevant_owner = name(owner);
  r.records = std::move(records);
  r.cname_chain = std::move(chain);
  r.queries = 2;
  return r;
}

check::CaSpec ca(const char* issuer, caa::Behaviour b = caa::Behaviour::strictest) {
  return {issuer, caa::CaProfile{issuer, std::nullopt, std::nullopt, b}};
}

const caa::Record k_le{0, "issue", "letsencrypt.org"};
const caa::Record k_digicert{0, "issue", "digicert.com"};

}  // namespace

TEST_CASE("a CNAME to a provider target with CAA is pinned and permitted") {
  std::vector<dns::Name> targets = {name("t.provider.test")};
  std::vector<check::CaSpec> cas = {ca("letsencrypt.org")};
  auto r = check::assess(
      found("shop.customer.test", "shop.customer.test", "t.provider.test", {k_le}, {name("t.provider.test")}), cas,
      targets);
  CHECK(r.verdict == Verdict::permitted);
  CHECK(r.exposure == Exposure::pinned);
  CHECK(r.reason.find("at t.provider.test allows letsencrypt.org") != std::string::npos);

  // The same records found at the customer's parent: exposed.
  r = check::assess(found("shop.customer.test", "customer.test", "customer.test", {k_le}, {name("t.provider.test")}),
                    cas, targets);
  CHECK(r.exposure == Exposure::exposed);

  // A provider target that is not configured does not pin.
  r = check::assess(
      found("shop.customer.test", "shop.customer.test", "t.provider.test", {k_le}, {name("t.provider.test")}), cas,
      {});
  CHECK(r.exposure == Exposure::exposed);
}

TEST_CASE("the worst verdict over the CAs wins, and each CA keeps its own") {
  std::vector<check::CaSpec> cas = {ca("letsencrypt.org"), ca("digicert.com")};
  auto r = check::assess(found("a.customer.test", "customer.test", "customer.test", {k_digicert}), cas, {});
  REQUIRE(r.cas.size() == 2);
  CHECK(r.cas[0].verdict == Verdict::denied);
  CHECK(r.cas[1].verdict == Verdict::permitted);
  CHECK(r.verdict == Verdict::denied);
  CHECK(r.reason == r.cas[0].reason);
  CHECK(check::severity(Verdict::denied) > check::severity(Verdict::lookup_failed));
  CHECK(check::severity(Verdict::lookup_failed) > check::severity(Verdict::permitted));
}

TEST_CASE("a failed lookup is lookup_failed for every CA, with the kind and the name") {
  lookup::LookupResult l(*dns::parse_domain("*.shop.customer.test"));
  l.failure = lookup::Failure{lookup::FailureKind::dnssec_bogus, name("customer.test"),
                              "127.0.0.1:53 answered SERVFAIL for CAA customer.test", "127.0.0.1:53"};
  std::vector<check::CaSpec> cas = {ca("letsencrypt.org"), ca("digicert.com")};
  auto r = check::assess(l, cas, {});
  CHECK(r.verdict == Verdict::lookup_failed);
  for (const auto& v : r.cas) CHECK(v.verdict == Verdict::lookup_failed);
  CHECK(r.reason.find("DNSSEC bogus") != std::string::npos);
  CHECK(r.reason.find("*.shop.customer.test") != std::string::npos);

  auto j = check::to_json(r);
  CHECK(j["verdict"] == "lookup_failed");
  CHECK(j["failure"]["kind"] == "dnssec_bogus");
  CHECK(j["failure"]["name"] == "customer.test");
  CHECK(j["wildcard"] == true);
  CHECK(j["domain"] == "*.shop.customer.test");
  CHECK(j["found_at"].is_null());
}

TEST_CASE("NXDOMAIN at a TLD: empty for RFC 8659, a lookup error for Let's Encrypt") {
  lookup::LookupResult l(*dns::parse_domain("www.example.gonetld"));
  l.nxdomain_tld = name("gonetld");
  std::vector<check::CaSpec> cas = {ca("letsencrypt.org", caa::Behaviour::rfc8659),
                                    ca("letsencrypt.org", caa::Behaviour::letsencrypt),
                                    ca("letsencrypt.org", caa::Behaviour::strictest)};
  auto r = check::assess(l, cas, {});
  CHECK(r.cas[0].verdict == Verdict::permitted);
  CHECK(r.cas[1].verdict == Verdict::lookup_failed);
  CHECK(r.cas[2].verdict == Verdict::lookup_failed);
  CHECK(r.verdict == Verdict::lookup_failed);
  CHECK(r.cas[1].reason.find("gonetld") != std::string::npos);
}

TEST_CASE("JSON carries every promised field") {
  std::vector<check::CaSpec> cas = {ca("letsencrypt.org")};
  auto r = check::assess(
      found("shop.customer.test", "shop.customer.test", "t.provider.test", {k_le}, {name("t.provider.test")}), cas,
      std::vector<dns::Name>{name("t.provider.test")});
  auto j = check::to_json(r);
  for (const char* field : {"domain", "wildcard", "verdict", "exposure", "reason", "found_at", "relevant_owner",
                            "records", "cname_chain", "failure", "queries", "cas"}) {
    CAPTURE(field);
    CHECK(j.contains(field));
  }
  CHECK(j["exposure"] == "pinned");
  CHECK(j["found_at"] == "shop.customer.test");
  CHECK(j["relevant_owner"] == "t.provider.test");
  CHECK(j["records"][0] == "0 issue \"letsencrypt.org\"");
  CHECK(j["cname_chain"][0] == "t.provider.test");
  CHECK(j["failure"].is_null());
  CHECK(j["queries"] == 2);
  CHECK(j["cas"][0]["verdict"] == "permitted");
  CHECK(j["cas"][0]["deciding_record"]["index"] == 0);
}

TEST_CASE("each CA's outcome, behaviour, deciding record and divergence are those of the policy's JSON") {
  const caa::Record critical_unknown{128, "tbs", "x"};
  const caa::Record le_flag1{1, "issue", "letsencrypt.org"};
  std::vector<check::CaSpec> cas = {ca("letsencrypt.org", caa::Behaviour::letsencrypt),
                                    ca("digicert.com", caa::Behaviour::rfc8659), ca("letsencrypt.org")};
  for (const std::vector<caa::Record>& records :
       {std::vector<caa::Record>{k_le, k_digicert}, std::vector<caa::Record>{le_flag1},
        std::vector<caa::Record>{critical_unknown, k_le}, std::vector<caa::Record>{}}) {
    auto r = check::assess(found("a.customer.test", "customer.test", "customer.test", records), cas, {});
    auto j = check::to_json(r);
    REQUIRE(j["cas"].size() == cas.size());
    for (std::size_t i = 0; i < cas.size(); ++i) {
      CAPTURE(i);
      CAPTURE(j.dump());
      REQUIRE(r.cas[i].decision.has_value());
      const nlohmann::json policy = caa::to_json(*r.cas[i].decision, r.lookup.records);
      for (const char* field : {"outcome", "behaviour", "deciding_record", "divergence"}) {
        CAPTURE(field);
        CHECK(j["cas"][i][field] == policy[field]);
      }
    }
  }
}
