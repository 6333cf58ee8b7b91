// Tests for lib/events: every verdict transition and the events it raises,
// the new state (counters, timestamps, stored JSON), "renewal at risk" once
// per episode, severity bands, the data an alert needs (verdict per CA, the
// blocking record and its owner, the chain, the failure, renewal, days left,
// remedy), and provider-target events with the count of pinned domains.
#include "lib/events/events.h"

#include <doctest/doctest.h>

#include <functional>

#include <cstdint>
#include <string>
#include <vector>

#include "lib/check/check_json.h"

using namespace caad;
using store::Severity;

namespace {

constexpr UnixSeconds k_now = 1'800'000'000;
constexpr std::int64_t k_day = 86400;
const config::ScheduleConfig k_schedule;  // defaults: near 30 d, week 7 d, at risk 14 d

dns::Name name(const char* text) {
  return *dns::Name::parse(text);
}

const caa::Record k_le{0, "issue", "letsencrypt.org"};
const caa::Record k_digicert{0, "issue", "digicert.com"};

std::vector<check::CaSpec> cas() {
  return {{"letsencrypt", caa::CaProfile{"letsencrypt.org", std::nullopt, std::nullopt,
                                         caa::Behaviour::strictest}},
          {"digicert",
           caa::CaProfile{"digicert.com", std::nullopt, std::nullopt, caa::Behaviour::strictest}}};
}

const std::vector<dns::Name> k_targets = {name("t.provider.test")};

// The customer's parent publishes `records`; the name aliases to the provider
// target, which has no CAA of its own. Exposed.
check::CheckResult exposed(std::vector<caa::Record> records,
                           const char* domain = "shop.customer.test") {
  lookup::LookupResult l(*dns::parse_domain(domain));
  if (!records.empty()) {
    l.found_at = name("customer.test");
    l.relevant_owner = name("customer.test");
  }
  l.records = std::move(records);
  l.cname_chain = {name("t.provider.test")};
  return check::assess(std::move(l), cas(), k_targets);
}

check::CheckResult permitted() {
  return exposed({});
}
check::CheckResult denied() {
  return exposed({k_digicert});
}

// The provider target's own records decide: pinned.
check::CheckResult pinned(std::vector<caa::Record> records,
                          const char* domain = "shop.customer.test") {
  lookup::LookupResult l(*dns::parse_domain(domain));
  l.found_at = name(domain[0] == '*' ? domain + 2 : domain);
  l.relevant_owner = name("t.provider.test");
  l.records = std::move(records);
  l.cname_chain = {name("t.provider.test")};
  return check::assess(std::move(l), cas(), k_targets);
}

check::CheckResult failed(const char* server = "127.0.0.1:53",
                          lookup::FailureKind kind = lookup::FailureKind::servfail) {
  lookup::LookupResult l(*dns::parse_domain("shop.customer.test"));
  l.failure =
      lookup::Failure{kind, name("customer.test"),
                      std::string(server) + " answered SERVFAIL for CAA customer.test", server};
  return check::assess(std::move(l), cas(), k_targets);
}

store::DomainState state(const char* verdict, int failures = 0, bool at_risk = false) {
  store::DomainState s;
  s.verdict = verdict;
  s.consecutive_failures = failures;
  s.at_risk_reported = at_risk;
  s.changed_at = k_now - 1000;
  s.last_checked_at = k_now - 100;
  return s;
}

std::vector<std::string> kinds(const events::Transition& t) {
  std::vector<std::string> out;
  for (const auto& e : t.events) out.push_back(e.kind);
  return out;
}

using Kinds = std::vector<std::string>;

}  // namespace

TEST_CASE("every verdict transition raises the events of the table") {
  struct Row {
    const char* before;
    const char* after;
    Kinds expected;
  };
  const std::vector<Row> table = {
      {"", "permitted", {}},
      {"", "denied", {"regression"}},
      {"", "lookup_failed", {"lookup_failure"}},
      {"permitted", "permitted", {}},
      {"permitted", "denied", {"regression"}},
      {"permitted", "lookup_failed", {"lookup_failure"}},
      {"denied", "permitted", {"recovery"}},
      {"denied", "denied", {}},
      {"denied", "lookup_failed", {}},
      {"lookup_failed", "permitted", {"recovery"}},
      {"lookup_failed", "denied", {"regression"}},
      {"lookup_failed", "lookup_failed", {}},
  };
  // Far from renewal and with renewal unknown: no "renewal at risk" mixed in.
  for (std::optional<UnixSeconds> renewal :
       {std::optional<UnixSeconds>(k_now + 60 * k_day), std::optional<UnixSeconds>()}) {
    for (const Row& row : table) {
      const std::string after = row.after;
      const check::CheckResult r = after == "permitted" ? permitted()
                                   : after == "denied"  ? denied()
                                                        : failed();
      const auto t =
          events::apply(state(row.before, std::string(row.before) == "lookup_failed" ? 2 : 0), r,
                        renewal, k_now, k_schedule);
      INFO(row.before << " -> " << row.after);
      CHECK(kinds(t) == row.expected);
      CHECK(t.state.verdict == after);
      for (const auto& e : t.events) {
        CHECK(e.subject == "shop.customer.test");
        CHECK(e.at == k_now);
        CHECK(e.data["verdict"] == after);
      }
    }
  }
}

TEST_CASE("the new state carries the check and the counters") {
  SUBCASE("fields from the check") {
    const check::CheckResult r = denied();
    const auto t = events::apply(state("permitted"), r, std::nullopt, k_now, k_schedule);
    CHECK(t.state.verdict == "denied");
    CHECK(t.state.exposure == "exposed");
    CHECK(t.state.relevant_owner == "customer.test");
    CHECK_FALSE(t.state.failure_kind);
    CHECK(t.state.reason == r.reason);
    nlohmann::json stored = check::to_json(r);
    stored.erase("queries");  // not part of the domain's state
    CHECK(nlohmann::json::parse(t.state.result_json) == stored);
    CHECK(t.state.last_checked_at == k_now);
    CHECK(t.state.changed_at == k_now);
    CHECK(t.state.next_check_at == 0);
    CHECK(t.state.consecutive_failures == 0);

    const auto p = events::apply(state(""), pinned({k_le}), std::nullopt, k_now, k_schedule);
    CHECK(p.state.exposure == "pinned");
    CHECK(p.state.relevant_owner == "t.provider.test");
    CHECK(p.state.changed_at == k_now);  // never checked -> permitted is a change
  }
  SUBCASE("changed_at moves only with the verdict") {
    const auto t = events::apply(state("denied"), denied(), std::nullopt, k_now, k_schedule);
    CHECK(t.state.changed_at == k_now - 1000);
    CHECK(t.state.last_checked_at == k_now);
  }
  SUBCASE("consecutive failures count failed checks in a row") {
    store::DomainState s = state("permitted");
    for (int i = 1; i <= 4; ++i) {
      const auto t = events::apply(s, failed(), std::nullopt, k_now + i, k_schedule);
      CHECK(t.state.consecutive_failures == i);
      CHECK(t.state.failure_kind == "servfail");
      CHECK(t.events.size() == (i == 1 ? 1U : 0U));
      s = t.state;
    }
    CHECK(s.changed_at == k_now + 1);
    // Denied then failing: the count starts again.
    CHECK(events::apply(state("denied"), failed(), std::nullopt, k_now, k_schedule)
              .state.consecutive_failures == 1);
    // Back to permitted or denied: zero.
    CHECK(
        events::apply(s, permitted(), std::nullopt, k_now, k_schedule).state.consecutive_failures ==
        0);
    CHECK(events::apply(s, denied(), std::nullopt, k_now, k_schedule).state.consecutive_failures ==
          0);
  }
}

TEST_CASE("same_result: what a check found, not when or with how many queries") {
  check::CheckResult first = denied();
  check::CheckResult later = denied();
  later.lookup.queries = first.lookup.queries + 5;
  const auto a = events::apply(state("permitted"), first, std::nullopt, k_now, k_schedule).state;
  const auto b = events::apply(a, later, std::nullopt, k_now + 3600, k_schedule).state;
  CHECK(nlohmann::json::parse(a.result_json).contains("queries") == false);
  CHECK(events::same_result(a, b));
  CHECK_FALSE(events::same_result(a, events::apply(a, permitted(), std::nullopt, k_now, k_schedule).state));
  CHECK_FALSE(events::same_result(a, events::apply(a, failed(), std::nullopt, k_now, k_schedule).state));
  check::CheckResult other_chain = denied();
  other_chain.lookup.cname_chain.push_back(*dns::Name::parse("elsewhere.test"));
  CHECK_FALSE(events::same_result(a, events::apply(a, other_chain, std::nullopt, k_now, k_schedule).state));
  CHECK_FALSE(events::same_result(store::DomainState{}, a));  // never checked
  store::DomainState old_row = a;
  old_row.result_digest = 0;  // written before digests were stored
  CHECK_FALSE(events::same_result(old_row, b));
}

TEST_CASE("an unchanged result is not stored again, and its events still carry everything") {
  const auto first = events::apply(state("permitted"), denied(), std::nullopt, k_now, k_schedule);
  CHECK(first.result_changed);
  CHECK_FALSE(first.state.result_json.empty());

  // The state as due() returns it: the digest, not the JSON.
  store::DomainState previous = first.state;
  previous.result_json.clear();
  const auto again = events::apply(previous, denied(), std::nullopt, k_now + 3600, k_schedule);
  CHECK_FALSE(again.result_changed);
  CHECK(again.state.result_json.empty());
  CHECK(again.state.result_digest == first.state.result_digest);
  CHECK(again.events.empty());

  // Same result, but the renewal is now close: renewal_at_risk, with the
  // whole picture built from the result even though nothing is stored.
  const auto risk = events::apply(previous, denied(), k_now + 3 * k_day, k_now + 3600, k_schedule);
  CHECK_FALSE(risk.result_changed);
  REQUIRE(risk.events.size() == 1);
  CHECK(risk.events[0].kind == "renewal_at_risk");
  CHECK(risk.events[0].data["records"] == nlohmann::json::array({"0 issue \"digicert.com\""}));
  CHECK(risk.events[0].data["cas"][0]["verdict"] == "denied");

  // Anything different is stored whole.
  const auto changed = events::apply(previous, pinned({k_digicert}), std::nullopt, k_now + 7200, k_schedule);
  CHECK(changed.result_changed);
  CHECK(nlohmann::json::parse(changed.state.result_json)["exposure"] == "pinned");
}

TEST_CASE("the run of equal results: a change starts one, an equal result joins it") {
  const auto first = events::apply(state("permitted"), denied(), std::nullopt, k_now, k_schedule);
  CHECK(first.state.run_started_at == k_now);
  CHECK(first.state.run_checks == 1);

  const auto second = events::apply(first.state, denied(), std::nullopt, k_now + 3600, k_schedule);
  CHECK(second.state.run_started_at == k_now);
  CHECK(second.state.run_checks == 2);
  const auto third = events::apply(second.state, denied(), std::nullopt, k_now + 7200, k_schedule);
  CHECK(third.state.run_started_at == k_now);
  CHECK(third.state.run_checks == 3);

  const auto other = events::apply(third.state, permitted(), std::nullopt, k_now + 9000, k_schedule);
  CHECK(other.state.run_started_at == k_now + 9000);
  CHECK(other.state.run_checks == 1);

  // A state migrated from before runs (run_checks 0: its checks are all in
  // the history already): an equal result starts a run at this check.
  store::DomainState migrated = third.state;
  migrated.run_started_at = 0;
  migrated.run_checks = 0;
  const auto after = events::apply(migrated, denied(), std::nullopt, k_now + 9000, k_schedule);
  CHECK_FALSE(after.result_changed);
  CHECK(after.state.run_started_at == k_now + 9000);
  CHECK(after.state.run_checks == 1);
}

TEST_CASE("renewal at risk is raised once per episode") {
  const std::optional<UnixSeconds> soon = k_now + 10 * k_day;  // within the 14-day window

  auto t = events::apply(state("permitted"), denied(), soon, k_now, k_schedule);
  CHECK(kinds(t) == Kinds{"regression", "renewal_at_risk"});
  CHECK(t.events[1].severity == Severity::critical);
  CHECK(t.state.at_risk_reported);

  // Still denied, then failing, then denied again: nothing new.
  t = events::apply(t.state, denied(), soon, k_now + 3600, k_schedule);
  CHECK(t.events.empty());
  CHECK(t.state.at_risk_reported);
  t = events::apply(t.state, failed(), soon, k_now + 7200, k_schedule);
  CHECK(t.events.empty());
  t = events::apply(t.state, denied(), soon, k_now + 9000, k_schedule);
  CHECK(kinds(t) == Kinds{"regression"});
  CHECK(t.state.at_risk_reported);

  // Recovery ends the episode; the next problem is announced again.
  t = events::apply(t.state, permitted(), soon, k_now + 10000, k_schedule);
  CHECK(kinds(t) == Kinds{"recovery"});
  CHECK_FALSE(t.state.at_risk_reported);
  t = events::apply(t.state, failed(), soon, k_now + 11000, k_schedule);
  CHECK(kinds(t) == Kinds{"lookup_failure", "renewal_at_risk"});

  // Denied far from renewal: no risk yet; the renewal comes closer: at risk.
  t = events::apply(state("permitted"), denied(), k_now + 40 * k_day, k_now, k_schedule);
  CHECK(kinds(t) == Kinds{"regression"});
  CHECK_FALSE(t.state.at_risk_reported);
  t = events::apply(t.state, denied(), k_now + 40 * k_day, k_now + 27 * k_day, k_schedule);
  CHECK(kinds(t) == Kinds{"renewal_at_risk"});

  // Boundary: exactly at_risk_window away counts; a second more does not.
  CHECK(kinds(events::apply(state("denied"), denied(), k_now + k_schedule.at_risk_window, k_now,
                            k_schedule)) == Kinds{"renewal_at_risk"});
  CHECK(events::apply(state("denied"), denied(), k_now + k_schedule.at_risk_window + 1, k_now,
                      k_schedule)
            .events.empty());
  // A renewal already past is at risk too; an unknown renewal never is.
  CHECK(kinds(events::apply(state("denied"), denied(), k_now - k_day, k_now, k_schedule)) ==
        Kinds{"renewal_at_risk"});
  CHECK(events::apply(state("denied"), denied(), std::nullopt, k_now, k_schedule).events.empty());

  // A new renewal date out of the window starts a new episode.
  t = events::apply(state("denied", 0, true), denied(), k_now + 80 * k_day, k_now, k_schedule);
  CHECK(t.events.empty());
  CHECK_FALSE(t.state.at_risk_reported);
}

TEST_CASE("severity follows the time to renewal") {
  const auto& s = k_schedule;
  CHECK(events::severity(k_now, std::nullopt, s) == Severity::warning);
  CHECK(events::severity(k_now, k_now - 5 * k_day, s) == Severity::critical);
  CHECK(events::severity(k_now, k_now, s) == Severity::critical);
  CHECK(events::severity(k_now, k_now + s.window_week, s) == Severity::critical);
  CHECK(events::severity(k_now, k_now + s.window_week + 1, s) == Severity::warning);
  CHECK(events::severity(k_now, k_now + s.window_near, s) == Severity::warning);
  CHECK(events::severity(k_now, k_now + s.window_near + 1, s) == Severity::info);

  // On the events themselves: problems by the band, recoveries always info.
  auto first = [&](const store::DomainState& before, const check::CheckResult& r,
                   std::optional<UnixSeconds> renewal) {
    auto t = events::apply(before, r, renewal, k_now, s);
    REQUIRE_FALSE(t.events.empty());
    return t.events.front();
  };
  CHECK(first(state("permitted"), denied(), k_now + 3 * k_day).severity == Severity::critical);
  CHECK(first(state("permitted"), denied(), k_now + 20 * k_day).severity == Severity::warning);
  CHECK(first(state("permitted"), denied(), k_now + 60 * k_day).severity == Severity::info);
  CHECK(first(state("permitted"), denied(), std::nullopt).severity == Severity::warning);
  CHECK(first(state("permitted"), failed(), k_now + 2 * k_day).severity == Severity::critical);
  CHECK(first(state("permitted"), failed(), k_now + 60 * k_day).severity == Severity::info);
  CHECK(first(state("denied"), permitted(), k_now + 2 * k_day).severity == Severity::info);
}

TEST_CASE("event data says what is wrong, where, and what to do") {
  SUBCASE("an exposed domain denied by its parent's record") {
    const auto t =
        events::apply(state("permitted"), denied(), k_now + 36 * 3600, k_now, k_schedule);
    REQUIRE(kinds(t) == Kinds{"regression", "renewal_at_risk"});
    const nlohmann::json& d = t.events[0].data;
    CHECK(d["domain"] == "shop.customer.test");
    CHECK(d["wildcard"] == false);
    CHECK(d["verdict"] == "denied");
    CHECK(d["previous_verdict"] == "permitted");
    CHECK(d["exposure"] == "exposed");
    REQUIRE(d["cas"].size() == 2);
    CHECK(d["cas"][0]["ca"] == "letsencrypt");
    CHECK(d["cas"][0]["issuer"] == "letsencrypt.org");
    CHECK(d["cas"][0]["verdict"] == "denied");
    CHECK(d["cas"][0]["deciding_record"] == "0 issue \"digicert.com\"");
    CHECK(d["cas"][0]["reason"].get<std::string>().find("customer.test") != std::string::npos);
    CHECK(d["cas"][1]["ca"] == "digicert");
    CHECK(d["cas"][1]["verdict"] == "permitted");
    CHECK(d["found_at"] == "customer.test");
    CHECK(d["relevant_owner"] == "customer.test");
    CHECK(d["records"] == nlohmann::json::array({"0 issue \"digicert.com\""}));
    CHECK(d["cname_chain"] == nlohmann::json::array({"t.provider.test"}));
    CHECK(d["failure"].is_null());
    CHECK(d["reason"] == t.state.reason);
    CHECK(d["renewal_at"] == format_timestamp(k_now + 36 * 3600));
    CHECK(d["days_left"] == 1);
    CHECK(d["remedy"] ==
          "Publish a CAA record allowing letsencrypt.org at your provider target, or ask the "
          "customer to add "
          "`0 issue \"letsencrypt.org\"` at customer.test");
    // The at-risk event carries the same picture.
    CHECK(t.events[1].data == d);
  }
  SUBCASE("a first check: previous verdict null; renewal unknown: nulls") {
    const auto t = events::apply(state(""), denied(), std::nullopt, k_now, k_schedule);
    const nlohmann::json& d = t.events.at(0).data;
    CHECK(d["previous_verdict"].is_null());
    CHECK(d["renewal_at"].is_null());
    CHECK(d["days_left"].is_null());
  }
  SUBCASE("days left round towards the past") {
    auto days = [](std::int64_t seconds) {
      return events::apply(state("permitted"), denied(), k_now + seconds, k_now, k_schedule)
          .events.at(0)
          .data["days_left"];
    };
    CHECK(days(0) == 0);
    CHECK(days(k_day - 1) == 0);
    CHECK(days(k_day) == 1);
    CHECK(days(-1) == -1);
    CHECK(days(-k_day) == -1);
    CHECK(days(-k_day - 1) == -2);
  }
  SUBCASE("a pinned domain: fix the provider target") {
    const auto t =
        events::apply(state("permitted"), pinned({k_digicert}), std::nullopt, k_now, k_schedule);
    const nlohmann::json& d = t.events.at(0).data;
    CHECK(d["exposure"] == "pinned");
    CHECK(d["relevant_owner"] == "t.provider.test");
    CHECK(d["remedy"] ==
          "Fix the CAA record at the provider target t.provider.test so that it allows "
          "letsencrypt.org");
  }
  SUBCASE("a wildcard blocked by issuewild needs issuewild") {
    const auto t = events::apply(
        state("permitted"),
        exposed({caa::Record{0, "issuewild", "digicert.com"}}, "*.shop.customer.test"),
        std::nullopt, k_now, k_schedule);
    const nlohmann::json& d = t.events.at(0).data;
    CHECK(d["domain"] == "*.shop.customer.test");
    CHECK(d["wildcard"] == true);
    CHECK(d["remedy"].get<std::string>().find(
              "`0 issuewild \"letsencrypt.org\"` at customer.test") != std::string::npos);
  }
  SUBCASE("a name without an alias: only the customer can fix it") {
    lookup::LookupResult l(*dns::parse_domain("customer.test"));
    l.found_at = name("customer.test");
    l.relevant_owner = name("customer.test");
    l.records = {k_digicert};
    const auto t = events::apply(state("permitted"), check::assess(std::move(l), cas(), k_targets),
                                 std::nullopt, k_now, k_schedule);
    const std::string remedy = t.events.at(0).data["remedy"];
    CHECK(remedy.starts_with(
        "Ask the customer to add `0 issue \"letsencrypt.org\"` at customer.test"));
  }
  SUBCASE("a critical record: adding an issue record would not help") {
    const auto t = events::apply(state("permitted"), exposed({k_le, caa::Record{128, "tbs", "x"}}),
                                 std::nullopt, k_now, k_schedule);
    const std::string remedy = t.events.at(0).data["remedy"];
    CHECK(remedy.starts_with("Ask the customer to remove the critical CAA record"));
  }
  SUBCASE("a lookup failure: which server answered what") {
    const auto t =
        events::apply(state("permitted"), failed(), k_now + 20 * k_day, k_now, k_schedule);
    REQUIRE(kinds(t) == Kinds{"lookup_failure"});
    const nlohmann::json& d = t.events[0].data;
    CHECK(d["verdict"] == "lookup_failed");
    CHECK(d["failure"]["kind"] == "servfail");
    CHECK(d["failure"]["name"] == "customer.test");
    CHECK(d["failure"]["server"] == "127.0.0.1:53");
    CHECK(d["failure"]["detail"] == "127.0.0.1:53 answered SERVFAIL for CAA customer.test");
    CHECK(d["cas"][0]["verdict"] == "lookup_failed");
    CHECK(d["cas"][0]["deciding_record"].is_null());
    CHECK(d["days_left"] == 20);
    CHECK(d["remedy"] ==
          "127.0.0.1:53 answered servfail for customer.test: 127.0.0.1:53 answered SERVFAIL for "
          "CAA customer.test");

    const auto silent = events::apply(state("permitted"), failed("", lookup::FailureKind::timeout),
                                      std::nullopt, k_now, k_schedule);
    const nlohmann::json& s = silent.events.at(0).data;
    CHECK(s["failure"]["server"].is_null());
    CHECK(s["remedy"].get<std::string>().starts_with(
        "The resolver gave no answer (timeout) for customer.test: "));
  }
  SUBCASE("a recovery needs nothing") {
    const auto t = events::apply(state("denied"), permitted(), std::nullopt, k_now, k_schedule);
    REQUIRE(kinds(t) == Kinds{"recovery"});
    CHECK(t.events[0].data["previous_verdict"] == "denied");
    CHECK(t.events[0].data["remedy"] == "No action needed");
  }
}

TEST_CASE("provider target events name how many pinned domains they affect") {
  const auto target = [](std::vector<caa::Record> records) {
    lookup::LookupResult l(*dns::parse_domain("t.provider.test"));
    l.found_at = name("t.provider.test");
    l.relevant_owner = name("t.provider.test");
    l.records = std::move(records);
    return check::assess(std::move(l), cas(), k_targets);
  };
  const check::CheckResult good = target({k_le, k_digicert});
  const check::CheckResult broken = target({k_digicert});

  auto t = events::apply_target(state("permitted"), broken, 5000, k_now);
  REQUIRE(kinds(t) == Kinds{"provider_target_broken"});
  const store::Event& e = t.events[0];
  CHECK(e.severity == Severity::critical);
  CHECK(e.subject == "t.provider.test");
  CHECK(e.data["target"] == "t.provider.test");
  CHECK(e.data["pinned_domains"] == 5000);
  CHECK(e.data["verdict"] == "denied");
  CHECK(e.data["previous_verdict"] == "permitted");
  CHECK(e.data["cas"][0]["verdict"] == "denied");
  CHECK(e.data["cas"][0]["deciding_record"] == "0 issue \"digicert.com\"");
  CHECK(e.data["records"] == nlohmann::json::array({"0 issue \"digicert.com\""}));
  CHECK(e.data["failure"].is_null());
  CHECK(e.data["reason"] == broken.reason);
  CHECK(e.data["remedy"].get<std::string>().find("5000 pinned domains") != std::string::npos);
  CHECK(t.state.verdict == "denied");
  CHECK(t.state.changed_at == k_now);

  // Broken and failing stay one episode; back to permitted: recovered.
  t = events::apply_target(t.state, failed(), 5000, k_now + 300);
  CHECK(t.events.empty());
  CHECK(t.state.consecutive_failures == 1);
  t = events::apply_target(t.state, good, 4990, k_now + 600);
  REQUIRE(kinds(t) == Kinds{"provider_target_recovered"});
  CHECK(t.events[0].severity == Severity::info);
  CHECK(t.events[0].data["pinned_domains"] == 4990);
  CHECK(t.events[0].data["remedy"] == "No action needed");

  // Never checked and broken at once; never checked and fine; a failing target.
  CHECK(kinds(events::apply_target(state(""), broken, 3, k_now)) ==
        Kinds{"provider_target_broken"});
  CHECK(events::apply_target(state(""), good, 3, k_now).events.empty());
  CHECK(events::apply_target(state("permitted"), good, 3, k_now).events.empty());
  auto f = events::apply_target(state("permitted"), failed(), 7, k_now);
  REQUIRE(kinds(f) == Kinds{"provider_target_broken"});
  CHECK(f.events[0].data["failure"]["kind"] == "servfail");
  CHECK(f.events[0].data["pinned_domains"] == 7);
  CHECK(kinds(events::apply_target(state("lookup_failed", 3), good, 7, k_now)) ==
        Kinds{"provider_target_recovered"});
  CHECK(events::apply_target(state("lookup_failed", 3), broken, 7, k_now).events.empty());
}
