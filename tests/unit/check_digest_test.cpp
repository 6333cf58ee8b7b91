// Tests for check::result_digest: it must change whenever the stored JSON
// (check::to_json without "queries") changes, or the daemon would keep a
// stale result; and stay the same when only the query count differs, or
// every check would rewrite its result.
#include <doctest/doctest.h>

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lib/check/check.h"
#include "lib/check/check_json.h"

using namespace caad;

namespace {

dns::Name name(const char* text) {
  return *dns::Name::parse(text);
}

std::vector<check::CaSpec> cas() {
  return {{"letsencrypt", caa::CaProfile{"letsencrypt.org", std::nullopt, std::nullopt,
                                         caa::Behaviour::strictest}},
          {"digicert",
           caa::CaProfile{"digicert.com", std::nullopt, std::nullopt, caa::Behaviour::strictest}}};
}

// A result with something in every field to_json writes.
check::CheckResult base() {
  lookup::LookupResult l(*dns::parse_domain("shop.customer.test"));
  l.found_at = name("customer.test");
  l.relevant_owner = name("customer.test");
  l.records = {caa::Record{0, "issue", "digicert.com"}, caa::Record{0, "iodef", "mailto:a@b.test"}};
  l.cname_chain = {name("t.provider.test")};
  l.nxdomain_tld = name("test");
  l.queries = 3;
  return check::assess(std::move(l), cas(), std::vector<dns::Name>{name("t.provider.test")});
}

nlohmann::json stored(const check::CheckResult& r) {
  nlohmann::json j = check::to_json(r);
  j.erase("queries");
  return j;
}

caa::Decision& decision(check::CheckResult& r) {
  REQUIRE(r.cas.front().decision.has_value());
  return *r.cas.front().decision;
}

struct Mutation {
  std::string key;  // the to_json key it changes ("cas.x": a key of each CA)
  std::function<void(check::CheckResult&)> apply;
};

std::vector<Mutation> mutations() {
  using R = check::CheckResult;
  return {
      {"domain", [](R& r) { r.lookup.request.name = name("other.customer.test"); }},
      {"wildcard", [](R& r) { r.lookup.request.wildcard = true; }},
      {"verdict", [](R& r) { r.verdict = check::Verdict::lookup_failed; }},
      {"exposure", [](R& r) { r.exposure = check::Exposure::pinned; }},
      {"reason", [](R& r) { r.reason += "."; }},
      {"found_at", [](R& r) { r.lookup.found_at.reset(); }},
      {"found_at", [](R& r) { r.lookup.found_at = name("elsewhere.test"); }},
      {"relevant_owner", [](R& r) { r.lookup.relevant_owner = name("t.provider.test"); }},
      {"records", [](R& r) { r.lookup.records.front().value = "digicert.net"; }},
      {"records", [](R& r) { r.lookup.records.front().tag = "issuewild"; }},
      {"records", [](R& r) { r.lookup.records.front().flags = 128; }},
      {"records", [](R& r) { r.lookup.records.pop_back(); }},
      {"cname_chain", [](R& r) { r.lookup.cname_chain.push_back(name("t2.provider.test")); }},
      {"cname_chain", [](R& r) { r.lookup.cname_chain.clear(); }},
      {"failure",
       [](R& r) {
         r.lookup.failure = lookup::Failure{lookup::FailureKind::servfail, name("customer.test"), "x", "y"};
       }},
      {"nxdomain_tld", [](R& r) { r.lookup.nxdomain_tld.reset(); }},
      {"cas", [](R& r) { r.cas.pop_back(); }},
      {"cas.ca", [](R& r) { r.cas.front().name = "le"; }},
      {"cas.issuer", [](R& r) { r.cas.front().issuer = "letsencrypt.org."; }},
      {"cas.verdict", [](R& r) { r.cas.front().verdict = check::Verdict::permitted; }},
      {"cas.reason", [](R& r) { r.cas.front().reason += "!"; }},
      {"cas.outcome", [](R& r) { decision(r).outcome = caa::Outcome::critical_unknown_tag; }},
      {"cas.behaviour", [](R& r) { decision(r).behaviour = caa::Behaviour::rfc8659; }},
      {"cas.deciding_record", [](R& r) { decision(r).deciding_record = 1; }},
      {"cas.deciding_record", [](R& r) { decision(r).deciding_record.reset(); }},
      {"cas.divergence", [](R& r) { decision(r).divergence = "RFC 8659 says otherwise"; }},
      {"cas.outcome", [](R& r) { r.cas.front().decision.reset(); }},
  };
}

}  // namespace

TEST_CASE("result_digest: the same result gives the same digest, whatever the query count") {
  check::CheckResult a = base();
  check::CheckResult b = base();
  b.lookup.queries = 11;
  b.lookup.trace = {"a query"};
  CHECK(check::result_digest(a) == check::result_digest(b));
  CHECK(check::result_digest(a) != 0);
}

TEST_CASE("result_digest changes with every field of the stored JSON") {
  const check::CheckResult original = base();
  // Sanity of the base: the fields the mutations expect are there.
  REQUIRE(original.cas.front().decision.has_value());
  REQUIRE(original.cas.front().decision->deciding_record == std::size_t{0});
  REQUIRE(original.cas.front().verdict == check::Verdict::denied);

  std::set<std::string> covered;
  for (const Mutation& m : mutations()) {
    CAPTURE(m.key);
    check::CheckResult changed = base();
    m.apply(changed);
    // The mutation really changes what is stored...
    REQUIRE(stored(changed) != stored(original));
    // ...and the digest sees it.
    CHECK(check::result_digest(changed) != check::result_digest(original));
    covered.insert(m.key);
  }

  // Every key to_json writes (but "queries") has a mutation above, so a
  // field added to the JSON and forgotten in the digest fails here.
  const nlohmann::json j = stored(original);
  for (const auto& [key, value] : j.items()) {
    CAPTURE(key);
    CHECK(covered.count(key) == 1);
  }
  for (const auto& [key, value] : j["cas"][0].items()) {
    CAPTURE(key);
    CHECK(covered.count("cas." + key) == 1);
  }
}

TEST_CASE("result_digest tells values apart where they meet") {
  // The same characters split differently between two fields.
  check::CheckResult a = base();
  check::CheckResult b = base();
  a.lookup.records.front().tag = "issue";
  a.lookup.records.front().value = "xdigicert.com";
  b.lookup.records.front().tag = "issuex";
  b.lookup.records.front().value = "digicert.com";
  CHECK(check::result_digest(a) != check::result_digest(b));

  // A failure's fields.
  check::CheckResult failed = base();
  failed.lookup.failure = lookup::Failure{lookup::FailureKind::servfail, name("customer.test"), "d", "s"};
  for (auto change : std::vector<std::function<void(lookup::Failure&)>>{
           [](lookup::Failure& f) { f.kind = lookup::FailureKind::timeout; },
           [](lookup::Failure& f) { f.name = name("shop.customer.test"); },
           [](lookup::Failure& f) { f.detail = "e"; },
           [](lookup::Failure& f) { f.server = "t"; }}) {
    check::CheckResult other = failed;
    change(*other.lookup.failure);
    CHECK(stored(other) != stored(failed));
    CHECK(check::result_digest(other) != check::result_digest(failed));
  }
}
