// Tests for lib/status/reader, on databases written by the daemon's own code
// (tests/unit/status_fixture.h): the summary's counts, at-risk order and
// renewal rule, list filters and sorting, show (with a removed domain),
// events, the outbox, reading while the writer holds a transaction, and the
// open errors (missing, not caad, newer schema, a directory).
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include "lib/status/reader.h"
#include "lib/store/store.h"
#include "tests/unit/status_fixture.h"
#include "tests/unit/status_scenario.h"

using namespace caad;
using namespace caad::status;
using namespace caad::status::testing;

namespace {

constexpr UnixSeconds k_now = 1'780'000'000;  // 2026-05-28
const config::ScheduleConfig k_defaults;

std::unique_ptr<Reader> open_reader(const std::string& path) {
  auto r = Reader::open(path);
  if (!r) FAIL_CHECK(r.error().message);
  REQUIRE(r.has_value());
  return std::move(*r);
}

std::vector<std::string> subjects(const std::vector<DomainRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.subject);
  return out;
}

std::vector<std::string> list(Reader& r, ListFilter filter) {
  auto rows = r.list(filter, k_now, k_defaults);
  if (!rows) FAIL_CHECK(rows.error().message);
  REQUIRE(rows.has_value());
  return subjects(*rows);
}

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("the summary counts domains as the daemon does and orders the at-risk ones by renewal") {
  Fixture f;
  build_scenario(f, k_now);
  auto reader = open_reader(f.path());
  CHECK(reader->schema_version() == store::Store::latest_schema_version());

  auto s = reader->summary(k_now, k_defaults, 10);
  REQUIRE(s.has_value());
  CHECK(s->database == f.path());
  CHECK(s->schema == store::Store::latest_schema_version());
  CHECK(s->domains.total == 7);
  CHECK(s->domains.enabled == 6);
  CHECK(s->domains.permitted == 2);
  CHECK(s->domains.denied == 2);
  CHECK(s->domains.lookup_failed == 1);
  CHECK(s->domains.unchecked == 1);
  CHECK(s->domains.pinned == 1);
  CHECK(s->domains.exposed == 4);

  // The same figures as the store's own counts (what the daemon reports).
  auto counts = f.store().counts(k_now);
  REQUIRE(counts.has_value());
  CHECK(s->domains.denied == counts->denied);
  CHECK(s->domains.lookup_failed == counts->failing);
  CHECK(s->domains.due == counts->due);
  CHECK(s->outbox.pending == counts->outbox_pending);
  CHECK(s->outbox.dead == counts->outbox_dead);
  CHECK(s->outbox.pending == 3);
  CHECK(s->outbox.dead == 1);

  CHECK(subjects(s->at_risk) ==
        Names{"shop.customer.test", "api.customer.test", "*.customer.test"});
  CHECK(s->at_risk_total == 3);
  CHECK(s->at_risk_unknown_renewal == 0);
  const DomainRow& shop = s->at_risk[0];
  CHECK(shop.verdict == "denied");
  CHECK(shop.renewal == k_now + 2 * k_days + k_hour);
  CHECK(shop.changed_at == k_now - 3 * k_hour);
  CHECK(shop.reason.find("digicert.com") != std::string::npos);
  // api has only not_after: renewal is a third of 90 days before it.
  CHECK(s->at_risk[1].renewal == k_now + 10 * k_days);
  CHECK(s->at_risk[1].failure_kind == "servfail");
  CHECK(s->at_risk[1].consecutive_failures == 1);

  REQUIRE(s->targets.size() == 1);
  CHECK(s->targets[0].name == "t.provider.test");
  CHECK(s->targets[0].verdict == "permitted");
  CHECK(s->targets[0].pinned_domains == 1);
  CHECK(s->daemon.heartbeat_at == k_now - 10);
  CHECK(s->daemon.last_sweep_at == k_now - 10);
  CHECK(s->daemon.pid.has_value());
  CHECK(daemon_alive(s->daemon, k_now));

  SUBCASE("a limit keeps the soonest and the total") {
    auto limited = reader->summary(k_now, k_defaults, 1);
    REQUIRE(limited.has_value());
    CHECK(subjects(limited->at_risk) == Names{"shop.customer.test"});
    CHECK(limited->at_risk_total == 3);
  }
  SUBCASE("the configured schedule decides renewals from not_after") {
    config::ScheduleConfig s60;
    s60.assumed_lifetime = 60 * k_days;
    s60.renew_fraction = 0.5;  // renew 30 days before not_after: now + 10d as well
    auto other = reader->summary(k_now, s60, 10);
    REQUIRE(other.has_value());
    CHECK(other->at_risk[1].renewal == k_now + 10 * k_days);
    s60.renew_fraction = 0.75;  // 45 days before: already 5 days overdue, so first
    other = reader->summary(k_now, s60, 10);
    REQUIRE(other.has_value());
    CHECK(subjects(other->at_risk)[0] == "api.customer.test");
    CHECK(other->at_risk[0].renewal == k_now - 5 * k_days);
  }
}

TEST_CASE("an empty database reads as nothing at all, and the daemon as never run") {
  Fixture f;
  auto reader = open_reader(f.path());
  auto s = reader->summary(k_now, k_defaults, 10);
  REQUIRE(s.has_value());
  CHECK(s->domains.total == 0);
  CHECK(s->at_risk.empty());
  CHECK(s->targets.empty());
  CHECK(s->daemon.heartbeat_at == 0);
  CHECK_FALSE(daemon_alive(s->daemon, k_now));
  auto rows = reader->list(ListFilter{}, k_now, k_defaults);
  REQUIRE(rows.has_value());
  CHECK(rows->empty());
}

TEST_CASE("list filters by verdict, exposure, CA, renewal and change, then sorts and limits") {
  Fixture f;
  build_scenario(f, k_now);
  auto reader = open_reader(f.path());
  Reader& r = *reader;

  // By name, the wildcard sorting as its base name (as `caad domain list`).
  const Names all = {"api.customer.test", "*.customer.test",  "new.customer.test",
                     "off.customer.test", "ok.customer.test", "pinned.customer.test",
                     "shop.customer.test"};
  CHECK(list(r, {}) == all);

  ListFilter f1;
  f1.verdicts = {"denied"};
  CHECK(list(r, f1) == Names{"*.customer.test", "shop.customer.test"});
  f1.verdicts = {"unchecked"};
  CHECK(list(r, f1) == Names{"new.customer.test", "off.customer.test"});
  f1.verdicts = {"permitted", "lookup_failed"};
  CHECK(list(r, f1) == Names{"api.customer.test", "ok.customer.test", "pinned.customer.test"});

  ListFilter failing;
  failing.failing = true;
  CHECK(list(r, failing) == Names{"api.customer.test", "*.customer.test", "shop.customer.test"});
  failing.verdicts = {"lookup_failed", "permitted"};  // --failing narrows --verdict
  CHECK(list(r, failing) == Names{"api.customer.test"});
  failing.verdicts = {"permitted"};
  CHECK(list(r, failing).empty());

  ListFilter exposure;
  exposure.exposure = "pinned";
  CHECK(list(r, exposure) == Names{"pinned.customer.test"});
  exposure.exposure = "exposed";  // never-checked domains have no exposure yet
  CHECK(list(r, exposure) ==
        Names{"api.customer.test", "*.customer.test", "ok.customer.test", "shop.customer.test"});

  SUBCASE("--ca: checked for the CA, or unchecked and configured for it") {
    ListFilter ca;
    ca.ca = "digicert";
    // pinned is judged for letsencrypt only (its ca list); of the unchecked
    // ones, new names digicert and off has every CA.
    CHECK(list(r, ca) == Names{"api.customer.test", "*.customer.test", "new.customer.test",
                               "off.customer.test", "ok.customer.test", "shop.customer.test"});
    ca.ca = "letsencrypt";
    CHECK(list(r, ca) == Names{"api.customer.test", "*.customer.test", "off.customer.test",
                               "ok.customer.test", "pinned.customer.test", "shop.customer.test"});
    ca.ca = "sectigo";
    CHECK(list(r, ca) == Names{"off.customer.test"});
  }
  SUBCASE("--ca with a verdict matches that CA's own verdict") {
    ListFilter ca;
    ca.ca = "letsencrypt";
    ca.verdicts = {"denied"};
    CHECK(list(r, ca) == Names{"*.customer.test", "shop.customer.test"});
    ca.ca = "digicert";  // the record allows digicert: nothing is denied for it
    CHECK(list(r, ca).empty());
    ca.verdicts = {};
    ca.failing = true;
    CHECK(list(r, ca) == Names{"api.customer.test"});
    ca.failing = false;
    ca.verdicts = {"unchecked"};
    CHECK(list(r, ca) == Names{"new.customer.test", "off.customer.test"});
  }
  SUBCASE("--renewing-within includes renewals already past, never unknown ones") {
    ListFilter renewing;
    renewing.renewing_within = 7 * k_days;
    CHECK(list(r, renewing) == Names{"ok.customer.test", "shop.customer.test"});
    renewing.renewing_within = 1;
    CHECK(list(r, renewing).empty());
    renewing.renewing_within = 365 * k_days;
    renewing.sort = SortKey::renewal;
    CHECK(list(r, renewing) ==
          Names{"shop.customer.test", "ok.customer.test", "api.customer.test", "*.customer.test"});
  }
  SUBCASE("--changed-since") {
    ListFilter changed;
    changed.changed_since = 24 * k_hour;
    CHECK(list(r, changed) == Names{"api.customer.test", "ok.customer.test", "pinned.customer.test",
                                    "shop.customer.test"});
    changed.changed_since = 2 * k_hour;
    CHECK(list(r, changed) ==
          Names{"api.customer.test", "ok.customer.test", "pinned.customer.test"});
  }
  SUBCASE("sorting and limits") {
    ListFilter sorted;
    sorted.sort = SortKey::verdict;
    CHECK(list(r, sorted) == Names{"shop.customer.test", "*.customer.test", "api.customer.test",
                                   "new.customer.test", "off.customer.test", "ok.customer.test",
                                   "pinned.customer.test"});
    sorted.sort = SortKey::changed;
    CHECK(list(r, sorted) == Names{"pinned.customer.test", "ok.customer.test", "api.customer.test",
                                   "shop.customer.test", "*.customer.test", "new.customer.test",
                                   "off.customer.test"});
    sorted.sort = SortKey::renewal;
    sorted.limit = 2;
    CHECK(list(r, sorted) == Names{"shop.customer.test", "ok.customer.test"});
  }
}

TEST_CASE("show gives the verdict per CA, the records and where they live, checks and events") {
  Fixture f;
  build_scenario(f, k_now);
  auto reader = open_reader(f.path());

  auto shown = reader->show("shop.customer.test", k_defaults, 10);
  REQUIRE(shown.has_value());
  REQUIRE(shown->has_value());
  const DomainDetail& d = **shown;
  REQUIRE(d.domain.has_value());
  CHECK(d.domain->renewal == k_now + 2 * k_days + k_hour);
  REQUIRE(d.last_check.has_value());
  const CheckDetail& c = *d.last_check;
  CHECK(c.verdict == "denied");
  CHECK(c.exposure == "exposed");
  CHECK(c.found_at == "customer.test");
  CHECK(c.relevant_owner == "customer.test");
  CHECK(c.records == std::vector<std::string>{"0 issue \"digicert.com\""});
  CHECK(c.cname_chain == std::vector<std::string>{"t.provider.test"});
  CHECK_FALSE(c.failure.has_value());
  REQUIRE(c.cas.size() == 2);
  CHECK(c.cas[0].ca == "letsencrypt");
  CHECK(c.cas[0].issuer == "letsencrypt.org");
  CHECK(c.cas[0].verdict == "denied");
  CHECK_FALSE(c.cas[0].reason.empty());
  CHECK(c.cas[1].ca == "digicert");
  CHECK(c.cas[1].verdict == "permitted");
  CHECK(c.cas[1].deciding_record == "0 issue \"digicert.com\"");

  REQUIRE(d.history.size() == 2);  // newest first
  CHECK(d.history[0].verdict == "denied");
  CHECK(d.history[0].checked_at == k_now - 3 * k_hour);
  CHECK(d.history[0].reason == d.domain->reason);
  CHECK(d.history[1].verdict == "permitted");
  REQUIRE(d.events.size() == 2);
  std::vector<std::string> kinds{d.events[0].kind, d.events[1].kind};
  std::sort(kinds.begin(), kinds.end());
  CHECK(kinds == std::vector<std::string>{"regression", "renewal_at_risk"});
  CHECK(d.events[0].data["domain"] == "shop.customer.test");

  SUBCASE("a failed lookup keeps its failure") {
    auto api = reader->show("api.customer.test", k_defaults, 10);
    REQUIRE(api.has_value());
    REQUIRE(api->has_value());
    REQUIRE((*api)->last_check.has_value());
    REQUIRE((*api)->last_check->failure.has_value());
    CHECK((*api)->last_check->failure->kind == "servfail");
    CHECK((*api)->last_check->failure->server == "127.0.0.1:53");
  }
  SUBCASE("the limit applies to checks and events") {
    auto few = reader->show("shop.customer.test", k_defaults, 1);
    REQUIRE(few.has_value());
    REQUIRE(few->has_value());
    CHECK((*few)->history.size() == 1);
    CHECK((*few)->events.size() == 1);
  }
  SUBCASE("a never-checked domain") {
    auto fresh = reader->show("new.customer.test", k_defaults, 10);
    REQUIRE(fresh.has_value());
    REQUIRE(fresh->has_value());
    CHECK((*fresh)->domain->verdict.empty());
    CHECK_FALSE((*fresh)->last_check.has_value());
    CHECK((*fresh)->history.empty());
  }
  SUBCASE("a removed domain keeps its history, events and last result") {
    auto removed = f.store().remove(*dns::parse_domain("shop.customer.test"));
    REQUIRE(removed.has_value());
    auto again = reader->show("shop.customer.test", k_defaults, 10);
    REQUIRE(again.has_value());
    REQUIRE(again->has_value());
    CHECK_FALSE((*again)->domain.has_value());
    REQUIRE((*again)->last_check.has_value());
    CHECK((*again)->last_check->verdict == "denied");
    CHECK((*again)->history.size() == 2);
    CHECK((*again)->events.size() == 2);
  }
  SUBCASE("an unknown domain") {
    auto none = reader->show("nowhere.test", k_defaults, 10);
    REQUIRE(none.has_value());
    CHECK_FALSE(none->has_value());
  }
}

TEST_CASE("events since a time, by kind and limited to the newest, oldest first") {
  Fixture f;
  build_scenario(f, k_now);
  auto reader = open_reader(f.path());
  auto kinds = [&](EventFilter filter) {
    auto rows = reader->events(filter);
    REQUIRE(rows.has_value());
    std::vector<std::string> out;
    for (const auto& e : *rows) out.push_back(e.kind + " " + e.subject);
    return out;
  };
  CHECK(kinds({k_now - 24 * k_hour, {}, 0}) ==
        std::vector<std::string>{
            "regression shop.customer.test", "renewal_at_risk shop.customer.test",
            "lookup_failure api.customer.test", "renewal_at_risk api.customer.test"});
  CHECK(kinds({0, {}, 0}).size() == 5);
  CHECK(kinds({0, {"regression"}, 0}) ==
        std::vector<std::string>{"regression *.customer.test", "regression shop.customer.test"});
  CHECK(kinds({0, {}, 2}) == std::vector<std::string>{"lookup_failure api.customer.test",
                                                      "renewal_at_risk api.customer.test"});
  auto rows = reader->events({0, {"lookup_failure"}, 0});
  REQUIRE(rows.has_value());
  REQUIRE(rows->size() == 1);
  CHECK((*rows)[0].severity == "warning");
  CHECK((*rows)[0].at == k_now - k_hour);
  CHECK((*rows)[0].data["failure"]["kind"] == "servfail");
}

TEST_CASE("the outbox by state, with each delivery's event") {
  Fixture f;
  build_scenario(f, k_now);
  auto reader = open_reader(f.path());
  auto ids = [&](OutboxFilter filter) {
    auto rows = reader->outbox(filter);
    REQUIRE(rows.has_value());
    std::vector<std::int64_t> out;
    for (const auto& o : *rows) out.push_back(o.id);
    return out;
  };
  CHECK(ids({}) == std::vector<std::int64_t>{2, 3, 4, 5});  // pending and dead
  CHECK(ids({{"dead"}, 0}) == std::vector<std::int64_t>{2});
  CHECK(ids({{"delivered"}, 0}) == std::vector<std::int64_t>{1});
  CHECK(ids({{"pending"}, 2}) == std::vector<std::int64_t>{4, 5});
  auto dead = reader->outbox({{"dead"}, 0});
  REQUIRE(dead.has_value());
  const OutboxRow& o = dead->at(0);
  CHECK(o.endpoint == "ops");
  CHECK(o.event_kind == "regression");
  CHECK(o.subject == "shop.customer.test");
  CHECK(o.severity == "critical");
  CHECK(o.attempts == 3);
  CHECK(o.last_error == "HTTP 500 from hooks.example");
  auto delivered = reader->outbox({{"delivered"}, 0});
  REQUIRE(delivered.has_value());
  CHECK(delivered->at(0).delivered_at == k_now - 2 * k_days + 5);
}

TEST_CASE("the reader works while the daemon holds a write transaction, and never writes") {
  Fixture f;
  build_scenario(f, k_now);
  auto reader = open_reader(f.path());
  // A second writer connection holds the write lock, as the daemon does in
  // the middle of a batch; WAL readers see the last committed state.
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(f.path().c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)> writer(raw, &sqlite3_close_v2);
  REQUIRE(sqlite3_exec(raw, "BEGIN IMMEDIATE; DELETE FROM domains;", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  auto s = reader->summary(k_now, k_defaults, 10);
  REQUIRE(s.has_value());
  CHECK(s->domains.total == 7);
  auto again = Reader::open(f.path());
  REQUIRE(again.has_value());
  REQUIRE(sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);

  SUBCASE("and with the daemon stopped") {
    writer.reset();
    f.close();
    auto stopped = open_reader(f.path());
    auto counts = stopped->summary(k_now, k_defaults, 10);
    REQUIRE(counts.has_value());
    CHECK(counts->domains.total == 7);
  }
}

TEST_CASE("open errors: one sentence naming the file, and the kind that picks the exit status") {
  TempDir dir;
  SUBCASE("missing") {
    auto r = Reader::open(dir.file("nope.db"));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == OpenError::Kind::missing);
    CHECK(r.error().message == "database " + dir.file("nope.db") + " does not exist");
  }
  SUBCASE("not a caad database") {
    const std::string path = dir.file("notes.txt");
    std::ofstream(path) << "this is not a database, just text long enough to have a header\n";
    auto r = Reader::open(path);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == OpenError::Kind::unreadable);
    CHECK(r.error().message.find(path + " is not a caad database") == 0);
  }
  SUBCASE("written by a newer caad") {
    Fixture f;
    f.close();
    RawDb(f.path()).exec("PRAGMA user_version = 999");
    auto r = Reader::open(f.path());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == OpenError::Kind::unreadable);
    CHECK(r.error().message.find(f.path() + " was written by a newer caad (schema 999") == 0);
  }
  SUBCASE("a directory") {
    auto r = Reader::open(dir.file(""));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("is a directory") != std::string::npos);
  }
  SUBCASE("an empty path") {
    auto r = Reader::open("");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == OpenError::Kind::missing);
  }
}

TEST_CASE("disabled domains are not counted, even once checked, and the counts match the store's") {
  Fixture f;
  f.add("a.customer.test", k_now - k_days, k_now + 5 * k_days);
  f.add("b.customer.test", k_now - k_days, k_now + 5 * k_days);
  f.add("c.customer.test", k_now - k_days);
  f.add("p.customer.test", k_now - k_days);
  f.check("a.customer.test", Lookups::exposed("a.customer.test", {}), k_now - 600);
  f.check("b.customer.test", Lookups::exposed("b.customer.test", {k_allows_digicert}), k_now - 600);
  f.check("p.customer.test",
          Lookups::pinned("p.customer.test", {k_allows_letsencrypt, k_allows_digicert}),
          k_now - 600);
  // b and c are disabled afterwards: b keeps its denied state, c never ran.
  f.add("b.customer.test", k_now - 60, k_now + 5 * k_days, std::nullopt, {}, false);
  f.add("c.customer.test", k_now - 60, std::nullopt, std::nullopt, {}, false);

  auto reader = open_reader(f.path());
  for (UnixSeconds now : {k_now, k_now + 400 * k_days}) {
    CAPTURE(now);
    auto s = reader->summary(now, k_defaults, 10);
    REQUIRE(s.has_value());
    auto c = f.store().counts(now);
    REQUIRE(c.has_value());
    CHECK(s->domains.total == 4);
    CHECK(s->domains.enabled == 2);
    CHECK(s->domains.permitted == 2);
    CHECK(s->domains.denied == 0);
    CHECK(s->domains.unchecked == 0);
    CHECK(s->domains.pinned == 1);
    CHECK(s->domains.exposed == 1);
    CHECK(s->at_risk.empty());
    CHECK(s->domains.total == c->domains);
    CHECK(s->domains.enabled == c->enabled);
    CHECK(s->domains.due == c->due);
    CHECK(s->domains.permitted == c->permitted);
    CHECK(s->domains.denied == c->denied);
    CHECK(s->domains.lookup_failed == c->failing);
    CHECK(s->domains.unchecked == c->unchecked);
    CHECK(s->domains.pinned == c->pinned);
    CHECK(s->domains.exposed == c->exposed);
  }
}

TEST_CASE("show: checks that found the same result are one run, and the run going on comes first") {
  Fixture f;
  f.add("same.customer.test", k_now - 3 * k_days, k_now + 30 * k_days);
  f.check("same.customer.test", Lookups::exposed("same.customer.test", {}), k_now - 2 * k_days);
  f.check("same.customer.test", Lookups::exposed("same.customer.test", {}), k_now - k_days);
  f.check("same.customer.test", Lookups::exposed("same.customer.test", {}), k_now - k_hour);
  f.check("same.customer.test", Lookups::exposed("same.customer.test", {k_allows_letsencrypt}), k_now - 60);
  f.check("same.customer.test", Lookups::exposed("same.customer.test", {k_allows_letsencrypt}), k_now - 30);
  // Five checks, two results: the first run ended and is the only
  // history row; the second goes on in domain_state.
  RawDb raw(f.path());
  CHECK(raw.integer("SELECT count(*) FROM check_history WHERE subject = 'same.customer.test'") == 1);
  CHECK(raw.integer("SELECT checks FROM check_history WHERE subject = 'same.customer.test'") == 3);

  auto reader = open_reader(f.path());
  auto shown = reader->show("same.customer.test", k_defaults, 10);
  REQUIRE(shown.has_value());
  REQUIRE(shown->has_value());
  const DomainDetail& d = **shown;
  REQUIRE(d.history.size() == 2);  // newest first
  CHECK(d.history[0].first_checked_at == k_now - 60);
  CHECK(d.history[0].checked_at == k_now - 30);
  CHECK(d.history[0].checks == 2);
  CHECK(d.history[0].reason == d.domain->reason);
  CHECK(d.history[1].first_checked_at == k_now - 2 * k_days);
  CHECK(d.history[1].checked_at == k_now - k_hour);
  CHECK(d.history[1].checks == 3);
  CHECK_FALSE(d.history[1].reason.empty());
  CHECK(d.history[0].reason != d.history[1].reason);
  CHECK(d.history[1].verdict == "permitted");

  SUBCASE("the limit counts runs") {
    auto one = reader->show("same.customer.test", k_defaults, 1);
    REQUIRE(one.has_value());
    REQUIRE(one->has_value());
    REQUIRE((*one)->history.size() == 1);
    CHECK((*one)->history[0].checks == 2);
  }
  SUBCASE("removing the domain moves the run going on into the history") {
    REQUIRE(f.store().remove(*dns::parse_domain("same.customer.test")).value());
    auto gone = reader->show("same.customer.test", k_defaults, 10);
    REQUIRE(gone.has_value());
    REQUIRE(gone->has_value());
    CHECK_FALSE((*gone)->domain.has_value());
    REQUIRE((*gone)->history.size() == 2);
    CHECK((*gone)->history[0].first_checked_at == k_now - 60);
    CHECK((*gone)->history[0].checked_at == k_now - 30);
    CHECK((*gone)->history[0].checks == 2);
    CHECK((*gone)->history[0].reason == d.history[0].reason);
    REQUIRE((*gone)->last_check.has_value());
    CHECK((*gone)->last_check->reason == d.history[0].reason);
  }
}

TEST_CASE("show: history rows from before runs are single checks; an empty result takes the reason before it") {
  Fixture f;
  f.add("old.customer.test", k_now - 3 * k_days, k_now + 30 * k_days);
  f.check("old.customer.test", Lookups::exposed("old.customer.test", {}), k_now - 2 * k_days);
  REQUIRE(f.store().remove(*dns::parse_domain("old.customer.test")).value());
  // What caad wrote before schema 5: a row per check, first_checked_at
  // NULL, and an empty result_json for a check that found nothing new.
  RawDb raw(f.path());
  raw.exec("UPDATE check_history SET first_checked_at = NULL WHERE subject = 'old.customer.test'");
  raw.exec("INSERT INTO check_history (subject, checked_at, verdict, exposure, result_json) "
           "VALUES ('old.customer.test', " + std::to_string(k_now - k_days) +
           ", 'permitted', 'exposed', '')");

  auto reader = open_reader(f.path());
  auto shown = reader->show("old.customer.test", k_defaults, 10);
  REQUIRE(shown.has_value());
  REQUIRE(shown->has_value());
  const DomainDetail& d = **shown;
  REQUIRE(d.history.size() == 2);
  for (const HistoryRow& h : d.history) {
    CHECK(h.first_checked_at == h.checked_at);
    CHECK(h.checks == 1);
  }
  CHECK(d.history[0].checked_at == k_now - k_days);
  CHECK_FALSE(d.history[1].reason.empty());
  CHECK(d.history[0].reason == d.history[1].reason);
}
