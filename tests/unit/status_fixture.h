// Databases for the caad-status tests, made by the daemon's own write path:
// lib/store's Store (read_write) upserts the domains, lib/check judges
// scripted lookup results for the configured CAs, lib/events turns them into
// the new state and its events, and Store::write_checks writes state,
// history, events and outbox rows in one transaction, exactly as `caad run`
// does after each check. Only what the daemon's store cannot yet do (mark
// an outbox row dead or delivered, bump the schema) is done with raw SQL.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/check/check.h"
#include "lib/config/config.h"
#include "lib/dns/name.h"
#include "lib/events/events.h"
#include "lib/lookup/result.h"
#include "lib/schedule/schedule.h"
#include "lib/store/store.h"
#include "tests/support/raw_db.h"
#include "tests/support/temp_dir.h"

namespace caad::status::testing {

class TempDir : public caad::testing::TempDir {
 public:
  TempDir() : caad::testing::TempDir("caad-status") {}
};

// A plain connection, for what the store has no method for.
using RawDb = caad::testing::RawDb;

inline dns::Name name(std::string_view text) {
  auto n = dns::Name::parse(text);
  REQUIRE(n.has_value());
  return *n;
}

inline const caa::Record k_allows_letsencrypt{0, "issue", "letsencrypt.org"};
inline const caa::Record k_allows_digicert{0, "issue", "digicert.com"};

// The CAs of the test configuration: letsencrypt (primary) and digicert.
inline std::vector<check::CaSpec> test_cas() {
  return {{"letsencrypt", caa::CaProfile{"letsencrypt.org", std::nullopt, std::nullopt,
                                         caa::Behaviour::strictest}},
          {"digicert",
           caa::CaProfile{"digicert.com", std::nullopt, std::nullopt, caa::Behaviour::strictest}}};
}

inline const char* k_target = "t.provider.test";

// Scripted lookup results, as the engine would return them.
struct Lookups {
  // The customer's parent publishes `records`; the name aliases to the
  // provider target, which has none: exposed.
  static lookup::LookupResult exposed(std::string_view domain, std::vector<caa::Record> records,
                                      std::string_view parent = "customer.test") {
    lookup::LookupResult l(*dns::parse_domain(domain));
    if (!records.empty()) {
      l.found_at = name(parent);
      l.relevant_owner = name(parent);
    }
    l.records = std::move(records);
    l.cname_chain = {name(k_target)};
    return l;
  }
  // The provider target's own records decide: pinned.
  static lookup::LookupResult pinned(std::string_view domain, std::vector<caa::Record> records) {
    lookup::LookupResult l(*dns::parse_domain(domain));
    l.found_at = l.request.name;
    l.relevant_owner = name(k_target);
    l.records = std::move(records);
    l.cname_chain = {name(k_target)};
    return l;
  }
  // A name's own records decide, with no alias (a provider target's check).
  static lookup::LookupResult own(std::string_view domain, std::vector<caa::Record> records) {
    lookup::LookupResult l(*dns::parse_domain(domain));
    l.found_at = l.request.name;
    l.relevant_owner = l.request.name;
    l.records = std::move(records);
    return l;
  }
  static lookup::LookupResult failed(std::string_view domain) {
    lookup::LookupResult l(*dns::parse_domain(domain));
    l.failure =
        lookup::Failure{lookup::FailureKind::servfail, name("customer.test"),
                        "127.0.0.1:53 answered SERVFAIL for CAA customer.test", "127.0.0.1:53"};
    return l;
  }
};

// A database in a temporary directory, written through the store.
class Fixture {
 public:
  Fixture() : m_path(m_dir.file("caad.db")) {
    auto s = store::Store::open(m_path, store::Mode::read_write);
    REQUIRE(s.has_value());
    m_store = std::move(*s);
  }

  const std::string& path() const { return m_path; }
  store::Store& store() { return *m_store; }
  const TempDir& dir() const { return m_dir; }

  // `caad domain add`.
  void add(std::string_view domain, UnixSeconds now,
           std::optional<UnixSeconds> renew_at = std::nullopt,
           std::optional<UnixSeconds> not_after = std::nullopt, std::vector<std::string> cas = {},
           bool enabled = true) {
    auto request = dns::parse_domain(domain);
    REQUIRE(request.has_value());
    std::vector<store::DomainSpec> specs{
        store::DomainSpec{*request, std::move(cas), not_after, renew_at, enabled}};
    auto r = m_store->upsert(specs, now, false);
    if (!r) FAIL_CHECK(r.error().message);
    REQUIRE(r.has_value());
  }

  // One check of a stored domain, as Daemon::on_checked does it: assess,
  // apply the event rules to the stored state, schedule, write.
  void check(std::string_view domain, lookup::LookupResult lookup, UnixSeconds now) {
    auto due = m_store->due(std::numeric_limits<UnixSeconds>::max(), 1'000'000);
    REQUIRE(due.has_value());
    const store::DueDomain* found = nullptr;
    for (const auto& d : *due) {
      if (d.domain.spec.request.text() == domain) found = &d;
    }
    REQUIRE(found != nullptr);
    const std::vector<dns::Name> targets{name(k_target)};
    check::CheckResult result =
        check::assess(std::move(lookup), cas_for(found->domain.spec), targets);
    auto renewal = schedule::renewal_time(found->domain.spec, m_schedule);
    events::Transition t = events::apply(found->state, result, renewal, now, m_schedule);
    t.state.next_check_at =
        schedule::next_check(now, renewal, t.state.consecutive_failures, m_schedule, 0x5eed);
    std::vector<store::CheckWrite> writes{
        store::CheckWrite{found->domain.id, found->domain.spec.request.text(), std::move(t.state),
                          std::move(t.events), found->domain.updated_at, t.result_changed}};
    auto r = m_store->write_checks(writes, routes());
    if (!r) FAIL_CHECK(r.error().message);
    REQUIRE(r.has_value());
  }

  // A provider target's check, as Daemon::check_targets does it.
  void check_target(std::string_view target, lookup::LookupResult lookup, UnixSeconds now) {
    check::CheckResult result = check::assess(std::move(lookup), test_cas(), {});
    auto previous = m_store->target_state(std::string(target));
    REQUIRE(previous.has_value());
    auto pinned = m_store->count_pinned_to(std::string(target));
    REQUIRE(pinned.has_value());
    events::Transition t =
        events::apply_target(previous->value_or(store::DomainState{}), result, *pinned, now);
    auto r = m_store->write_target(std::string(target), t.state, t.events, routes());
    if (!r) FAIL_CHECK(r.error().message);
    REQUIRE(r.has_value());
  }

  void heartbeat(UnixSeconds now) {
    auto r = m_store->note_heartbeat(
        now, "domains 5, due 0, denied 1, failing 1, checks 9, in flight 0");
    REQUIRE(r.has_value());
  }

  // What the webhook sender would do to a delivery (the store has no
  // method for it yet).
  void set_outbox_state(std::int64_t id, std::string_view state, UnixSeconds at) {
    std::string sql = "UPDATE outbox SET state = '" + std::string(state) + "', attempts = 3";
    if (state == "delivered") sql += ", delivered_at = " + std::to_string(at);
    if (state == "dead") sql += ", last_error = 'HTTP 500 from hooks.example'";
    RawDb(m_path).exec(sql + " WHERE id = " + std::to_string(id));
  }

  // Closes the writer (a daemon that stopped).
  void close() { m_store.reset(); }

 private:
  // The domain's CAs, as Daemon::cas_for picks them: its list, else all.
  static std::vector<check::CaSpec> cas_for(const store::DomainSpec& spec) {
    std::vector<check::CaSpec> out;
    for (const auto& ca : test_cas()) {
      if (spec.cas.empty() ||
          std::find(spec.cas.begin(), spec.cas.end(), ca.name) != spec.cas.end()) {
        out.push_back(ca);
      }
    }
    return out;
  }

  static std::vector<store::OutboxRoute> routes() {
    return {store::OutboxRoute{"ops", {}, store::Severity::info}};
  }

  TempDir m_dir;
  std::string m_path;
  std::unique_ptr<store::Store> m_store;
  config::ScheduleConfig m_schedule;
};

}  // namespace caad::status::testing
