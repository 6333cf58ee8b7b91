// Unit tests for lib/store: opening and migrating (and refusing foreign or
// newer files), upserts and their reports, all-or-nothing batches, the due
// queue, check results with their events and outbox rows, the counts, and a
// reader that works while a writer holds a transaction (WAL). Each test uses
// a fresh database in its own temporary directory; a second, raw SQLite
// connection looks at what the store wrote.
#include "lib/store/store.h"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/dns/name.h"
#include "lib/store/types.h"
#include "lib/util/time.h"
#include "tests/support/raw_db.h"
#include "tests/support/temp_dir.h"

namespace {

using caad::UnixSeconds;
using caad::store::CheckWrite;
using caad::store::DomainSpec;
using caad::store::DomainState;
using caad::store::Event;
using caad::store::Mode;
using caad::store::OutboxRoute;
using caad::store::Severity;
using caad::store::Store;

constexpr UnixSeconds k_now = 1'780'000'000;  // 2026-05-28

class TempDir : public caad::testing::TempDir {
 public:
  TempDir() : caad::testing::TempDir("caad-store") {}
};

using caad::testing::RawDb;

std::unique_ptr<Store> open_store(const std::string& path, Mode mode = Mode::read_write) {
  auto store = Store::open(path, mode);
  if (!store) FAIL_CHECK("open failed: " << store.error().message);
  REQUIRE(store.has_value());
  return std::move(*store);
}

std::string open_error(const std::string& path, Mode mode) {
  auto store = Store::open(path, mode);
  REQUIRE_FALSE(store.has_value());
  return store.error().message;
}

caad::dns::DomainRequest request(std::string_view text) {
  auto parsed = caad::dns::parse_domain(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

DomainSpec spec(std::string_view text, std::vector<std::string> cas = {"letsencrypt"},
                std::optional<UnixSeconds> renew_at = std::nullopt) {
  return DomainSpec{request(text), std::move(cas), std::nullopt, renew_at, true};
}

caad::store::UpsertReport upsert(Store& store, const std::vector<DomainSpec>& specs,
                                 bool dry_run = false, UnixSeconds now = k_now) {
  auto report = store.upsert(specs, now, dry_run);
  if (!report) FAIL_CHECK("upsert failed: " << report.error().message);
  REQUIRE(report.has_value());
  return *report;
}

std::int64_t id_of(Store& store, std::string_view text) {
  auto found = store.find(request(text));
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  return (*found)->id;
}

DomainState checked(std::string verdict, UnixSeconds next_check_at,
                    std::string exposure = "exposed") {
  DomainState s;
  s.verdict = std::move(verdict);
  s.exposure = std::move(exposure);
  s.reason = "a reason";
  s.result_json = R"({"verdict":"x"})";
  s.result_digest = 0x8000'0000'0000'0001;  // above INT64_MAX: must survive the signed column
  s.last_checked_at = k_now;
  s.changed_at = k_now;
  s.next_check_at = next_check_at;
  s.run_started_at = k_now;  // a first check: a run of one
  s.run_checks = 1;
  return s;
}

Event event(std::string kind, Severity severity, std::string subject) {
  return Event{std::move(kind), severity, std::move(subject), k_now,
               nlohmann::json{{"domain", "x"}}};
}

void write(Store& store, const std::vector<CheckWrite>& checks,
           const std::vector<OutboxRoute>& routes = {}) {
  auto r = store.write_checks(checks, routes);
  if (!r) FAIL_CHECK("write_checks failed: " << r.error().message);
  REQUIRE(r.has_value());
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("a new database is created, migrated to the latest schema and put in WAL mode") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  {
    auto store = open_store(path);
    CHECK(store->schema_version() == Store::latest_schema_version());
    CHECK(Store::latest_schema_version() >= 1);
    auto ok = store->integrity_ok();
    REQUIRE(ok.has_value());
    CHECK(*ok);
  }
  RawDb raw(path);
  CHECK(raw.integer("PRAGMA application_id") == caad::store::k_application_id);
  CHECK(raw.integer("PRAGMA user_version") == Store::latest_schema_version());
  CHECK(raw.row("PRAGMA journal_mode") == "wal");
  for (const char* table : {"domains", "domain_state", "check_history", "events", "outbox",
                            "provider_targets", "daemon"}) {
    CAPTURE(table);
    CHECK(raw.integer(
              std::string("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '") +
              table + "'") == 1);
  }
  CHECK(raw.integer("SELECT count(*) FROM daemon") == 1);
}

TEST_CASE("reopening keeps the data and does not migrate again") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  {
    auto store = open_store(path);
    upsert(*store, {spec("shop.example.com"), spec("*.example.com")});
  }
  {
    auto store = open_store(path);
    CHECK(store->schema_version() == Store::latest_schema_version());
    auto all = store->list(100, 0);
    REQUIRE(all.has_value());
    REQUIRE(all->size() == 2);
    // Ordered by name, then the wildcard after the plain name.
    CHECK((*all)[0].spec.request.text() == "*.example.com");
    CHECK((*all)[1].spec.request.text() == "shop.example.com");
  }
  auto reader = open_store(path, Mode::read_only);
  auto found = reader->find(request("*.example.com"));
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CHECK((*found)->spec.request.wildcard);
  CHECK((*found)->spec.request.name.text() == "example.com");
  CHECK((*found)->spec.cas == std::vector<std::string>{"letsencrypt"});
  CHECK((*found)->added_at == k_now);
}

TEST_CASE("another application's SQLite file is refused, and left untouched") {
  TempDir dir;
  const std::string path = dir.file("other.db");
  {
    RawDb raw(path);
    raw.exec("CREATE TABLE notes (body TEXT)");
  }
  CHECK(open_error(path, Mode::read_write) == path + " is not a caad database");
  CHECK(open_error(path, Mode::read_only) == path + " is not a caad database");
  RawDb raw(path);
  CHECK(raw.row("PRAGMA journal_mode") == "delete");
  CHECK(raw.integer("PRAGMA application_id") == 0);

  SUBCASE("a file that is not SQLite at all") {
    const std::string text = dir.file("notes.txt");
    std::ofstream(text)
        << "this is not a database, just some text that is long enough to have a header\n";
    CHECK(contains(open_error(text, Mode::read_write), text + " is not a caad database"));
  }
  SUBCASE("a foreign application_id") {
    const std::string other = dir.file("other-id.db");
    RawDb(other).exec("PRAGMA application_id = 42");
    CHECK(open_error(other, Mode::read_write) == other + " is not a caad database");
  }
}

TEST_CASE("a database from a newer caad is refused with both schema numbers") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  open_store(path).reset();
  const int newer = Store::latest_schema_version() + 3;
  RawDb(path).exec("PRAGMA user_version = " + std::to_string(newer));
  const std::string expected = path + " was written by a newer caad (schema " +
                               std::to_string(newer) + ", this caad knows up to " +
                               std::to_string(Store::latest_schema_version()) + "); upgrade caad";
  CHECK(open_error(path, Mode::read_write) == expected);
  CHECK(open_error(path, Mode::read_only) == expected);
}

TEST_CASE("a migration that fails leaves the file as it was") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  {
    RawDb raw(path);
    raw.exec("PRAGMA application_id = " + std::to_string(caad::store::k_application_id));
    raw.exec("CREATE TABLE domains (x INTEGER)");
  }
  const std::string message = open_error(path, Mode::read_write);
  CAPTURE(message);
  CHECK(contains(message, "cannot migrate " + path + " to schema 1 (0001_init): "));
  CHECK(contains(message, "table domains already exists"));
  RawDb raw(path);
  CHECK(raw.integer("PRAGMA user_version") == 0);
  CHECK(raw.integer("SELECT count(*) FROM sqlite_schema") == 1);
}

TEST_CASE("read_only never creates or migrates a database") {
  TempDir dir;
  SUBCASE("a missing file") {
    const std::string path = dir.file("missing.db");
    CHECK(open_error(path, Mode::read_only) == "database " + path + " does not exist");
    CHECK_FALSE(std::filesystem::exists(path));
  }
  SUBCASE("an empty file") {
    const std::string path = dir.file("empty.db");
    std::ofstream{path};
    CHECK(contains(open_error(path, Mode::read_only),
                   "the daemon (caad run) must create its schema first"));
  }
  SUBCASE("an older schema") {
    const std::string path = dir.file("old.db");
    RawDb(path).exec("PRAGMA application_id = " + std::to_string(caad::store::k_application_id));
    const std::string message = open_error(path, Mode::read_only);
    CHECK(contains(message, path + " has schema 0, older than this caad's "));
    CHECK(contains(message, "the daemon (caad run) must migrate it first"));
    // The daemon's read_write open migrates it.
    CHECK(open_store(path)->schema_version() == Store::latest_schema_version());
    CHECK(open_store(path, Mode::read_only)->schema_version() == Store::latest_schema_version());
  }
  SUBCASE("writes through a read_only store are refused") {
    const std::string path = dir.file("caad.db");
    open_store(path).reset();
    auto reader = open_store(path, Mode::read_only);
    auto r = reader->upsert(std::vector<DomainSpec>{spec("a.example")}, k_now, false);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message == "cannot update the domains: " + path + " is open read-only");
    CHECK_FALSE(reader->note_heartbeat(k_now, "x").has_value());
  }
}

TEST_CASE("upsert adds, updates and leaves alone, and reports each change") {
  TempDir dir;
  auto store = open_store(dir.file("caad.db"));
  const UnixSeconds renew = 1'798'675'200;  // 2026-12-31T00:00:00Z

  auto first =
      upsert(*store, {spec("shop.example.com", {"letsencrypt"}, renew), spec("*.example.net", {}),
                      spec("b.example.org", {"letsencrypt", "sectigo"})});
  CHECK(first.added == 3);
  CHECK(first.updated == 0);
  CHECK(first.unchanged == 0);
  REQUIRE(first.changes.size() == 3);
  CHECK(first.changes[0] == "add shop.example.com (ca letsencrypt, renew_at 2026-12-31T00:00:00Z)");
  CHECK(first.changes[1] == "add *.example.net (every configured CA)");
  CHECK(first.changes[2] == "add b.example.org (ca letsencrypt then sectigo)");

  // Every new domain is due at once.
  auto due = store->due(k_now, 10);
  REQUIRE(due.has_value());
  CHECK(due->size() == 3);

  // Checked: nothing is due until the next check time.
  std::vector<CheckWrite> writes;
  for (const char* name : {"shop.example.com", "*.example.net", "b.example.org"}) {
    writes.push_back(
        CheckWrite{id_of(*store, name), name, checked("permitted", k_now + 86400), {}});
  }
  write(*store, writes);
  CHECK(store->due(k_now, 10)->empty());

  DomainSpec moved = spec("shop.example.com", {"letsencrypt"}, renew + 86400);
  DomainSpec disabled = spec("b.example.org", {"letsencrypt", "sectigo"});
  disabled.enabled = false;
  auto second =
      upsert(*store, {moved, spec("*.example.net", {}), disabled, spec("new.example.com")}, false,
             k_now + 60);
  CHECK(second.added == 1);
  CHECK(second.updated == 2);
  CHECK(second.unchanged == 1);
  REQUIRE(second.changes.size() == 3);
  CHECK(second.changes[0] ==
        "update shop.example.com: renew_at 2026-12-31T00:00:00Z → 2027-01-01T00:00:00Z");
  CHECK(second.changes[1] == "update b.example.org: enabled → disabled");
  CHECK(second.changes[2] == "add new.example.com (ca letsencrypt)");

  auto shop = store->find(request("shop.example.com"));
  REQUIRE(shop.has_value());
  CHECK((*shop)->spec.renew_at == renew + 86400);
  CHECK((*shop)->added_at == k_now);
  CHECK((*shop)->updated_at == k_now + 60);

  // The changed renewal is checked at once; the unchanged domain is not, and
  // the disabled one is never due.
  due = store->due(k_now + 60, 10);
  REQUIRE(due.has_value());
  REQUIRE(due->size() == 2);
  CHECK((*due)[0].domain.spec.request.text() == "shop.example.com");
  CHECK((*due)[1].domain.spec.request.text() == "new.example.com");
  CHECK((*due)[0].state.verdict == "permitted");  // the state is kept, only rescheduled

  SUBCASE("a dry run reports the same and writes nothing") {
    DomainSpec cas_changed = spec("new.example.com", {"sectigo"});
    auto dry = upsert(*store, {cas_changed, spec("dry.example.com")}, true, k_now + 120);
    CHECK(dry.added == 1);
    CHECK(dry.updated == 1);
    CHECK(dry.changes ==
          std::vector<std::string>{"update new.example.com: ca letsencrypt → sectigo",
                                   "add dry.example.com (ca letsencrypt)"});
    auto all = store->list(100, 0);
    REQUIRE(all.has_value());
    CHECK(all->size() == 4);
    CHECK_FALSE(store->find(request("dry.example.com"))->has_value());
    CHECK((*store->find(request("new.example.com")))->spec.cas ==
          std::vector<std::string>{"letsencrypt"});
    // Doing it for real gives the same report.
    auto real = upsert(*store, {cas_changed, spec("dry.example.com")}, false, k_now + 120);
    CHECK(real.changes == dry.changes);
    CHECK(store->list(100, 0)->size() == 5);
  }
  SUBCASE("list pages through the domains by name") {
    auto page = store->list(2, 1);
    REQUIRE(page.has_value());
    REQUIRE(page->size() == 2);
    CHECK((*page)[0].spec.request.text() == "*.example.net");
    CHECK((*page)[1].spec.request.text() == "new.example.com");
  }
}

TEST_CASE("an upsert batch is all or nothing") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  auto store = open_store(path);
  upsert(*store, {spec("kept.example.com")});

  SUBCASE("a name given twice") {
    auto r = store->upsert(
        std::vector<DomainSpec>{spec("kept.example.com", {"sectigo"}), spec("a.example.com"),
                                spec("b.example.com"), spec("a.example.com", {"sectigo"})},
        k_now, false);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message ==
          "a.example.com is given twice (entries 2 and 4); nothing was written");
  }
  SUBCASE("a constraint that fails half-way") {
    // from_dns() trusts its input, so it can build a name the schema's CHECK refuses.
    std::vector<DomainSpec> specs{spec("kept.example.com", {"sectigo"})};
    for (int i = 0; i < 100; ++i) specs.push_back(spec("n" + std::to_string(i) + ".example.com"));
    specs.push_back(
        DomainSpec{caad::dns::DomainRequest{*caad::dns::Name::from_dns("*bad.example"), false},
                   {},
                   std::nullopt,
                   std::nullopt,
                   true});
    auto r = store->upsert(specs, k_now, false);
    REQUIRE_FALSE(r.has_value());
    CAPTURE(r.error().message);
    CHECK(contains(r.error().message,
                   "cannot update the domains in " + path + " (at *bad.example): "));
    CHECK(contains(r.error().message, "CHECK constraint failed"));
    CHECK(contains(r.error().message, "nothing was written"));
  }
  auto all = store->list(1000, 0);
  REQUIRE(all.has_value());
  REQUIRE(all->size() == 1);
  CHECK((*all)[0].spec.cas == std::vector<std::string>{"letsencrypt"});
  // The store is still usable after the rollback.
  CHECK(upsert(*store, {spec("after.example.com")}).added == 1);
}

TEST_CASE("remove deletes the domain and its state, keeps history and events") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  auto store = open_store(path);
  upsert(*store, {spec("gone.example.com"), spec("stays.example.com")});
  write(*store, {CheckWrite{id_of(*store, "gone.example.com"),
                            "gone.example.com",
                            checked("denied", k_now + 3600),
                            {event("regression", Severity::critical, "gone.example.com")}}});

  auto removed = store->remove(request("gone.example.com"));
  REQUIRE(removed.has_value());
  CHECK(*removed);
  CHECK_FALSE(store->find(request("gone.example.com"))->has_value());
  removed = store->remove(request("gone.example.com"));
  REQUIRE(removed.has_value());
  CHECK_FALSE(*removed);
  CHECK_FALSE(*store->remove(request("*.gone.example.com")));

  RawDb raw(path);
  CHECK(raw.integer("SELECT count(*) FROM domain_state") == 1);
  // The run of checks that domain_state held is now a history row.
  CHECK(raw.row("SELECT first_checked_at || ' ' || checked_at || ' ' || checks || ' ' || verdict || "
                "' ' || result_json FROM check_history WHERE subject = 'gone.example.com'") ==
        std::to_string(k_now) + " " + std::to_string(k_now) + R"( 1 denied {"verdict":"x"})");
  CHECK(raw.integer("SELECT count(*) FROM check_history") == 1);
  CHECK(raw.integer("SELECT count(*) FROM events WHERE subject = 'gone.example.com'") == 1);
}

TEST_CASE("due returns enabled domains soonest first, up to the limit") {
  TempDir dir;
  auto store = open_store(dir.file("caad.db"));
  CHECK(store->next_due()->has_value() == false);
  upsert(*store, {spec("a.example"), spec("b.example"), spec("c.example"), spec("d.example"),
                  spec("e.example")});
  const std::vector<std::pair<const char*, UnixSeconds>> next{{"a.example", k_now + 50},
                                                              {"b.example", k_now - 10},
                                                              {"c.example", k_now - 30},
                                                              {"d.example", k_now - 20},
                                                              {"e.example", k_now + 10}};
  std::vector<CheckWrite> writes;
  for (const auto& [name, at] : next)
    writes.push_back(CheckWrite{id_of(*store, name), name, checked("permitted", at), {}});
  write(*store, writes);

  auto due = store->due(k_now, 2);
  REQUIRE(due.has_value());
  REQUIRE(due->size() == 2);
  CHECK((*due)[0].domain.spec.request.text() == "c.example");
  CHECK((*due)[1].domain.spec.request.text() == "d.example");
  CHECK((*due)[0].state.next_check_at == k_now - 30);

  due = store->due(k_now, 100);
  REQUIRE(due->size() == 3);
  CHECK((*due)[2].domain.spec.request.text() == "b.example");
  CHECK(store->due(k_now + 10, 100)->size() == 4);

  CHECK(*store->next_due() == k_now - 30);
  DomainSpec off = spec("c.example");
  off.enabled = false;
  upsert(*store, {off});
  CHECK(*store->next_due() == k_now - 20);
  CHECK(store->due(k_now, 100)->size() == 2);
}

TEST_CASE("due after a cursor reads each due domain once, in order") {
  TempDir dir;
  auto store = open_store(dir.file("caad.db"));
  // Two share a next_check_at: the id orders them, and the cursor must not
  // skip the second one.
  upsert(*store, {spec("a.example"), spec("b.example"), spec("c.example"), spec("d.example")});
  write(*store, {CheckWrite{id_of(*store, "a.example"), "a.example", checked("permitted", k_now - 30), {}},
                 CheckWrite{id_of(*store, "b.example"), "b.example", checked("permitted", k_now - 20), {}},
                 CheckWrite{id_of(*store, "c.example"), "c.example", checked("permitted", k_now - 20), {}},
                 CheckWrite{id_of(*store, "d.example"), "d.example", checked("permitted", k_now + 60), {}}});

  std::vector<std::string> seen;
  std::optional<caad::store::DueCursor> cursor;
  for (int page = 0; page < 5; ++page) {
    auto due = store->due(k_now, 1, cursor);
    REQUIRE(due.has_value());
    if (due->empty()) break;
    seen.push_back(due->back().domain.spec.request.text());
    cursor = caad::store::DueCursor{due->back().state.next_check_at, due->back().domain.id};
  }
  CHECK(seen == std::vector<std::string>{"a.example", "b.example", "c.example"});

  // A domain that falls due before the cursor (an import sets 0) is not
  // returned after it; a walk from the start finds it.
  upsert(*store, {spec("e.example")});
  CHECK(store->due(k_now, 10, cursor)->empty());
  auto from_start = store->due(k_now, 10);
  REQUIRE(from_start->size() == 4);
  CHECK(from_start->front().domain.spec.request.text() == "e.example");
}

TEST_CASE("write_checks stores state, history, events and an outbox row per wanting route") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  auto store = open_store(path);
  upsert(*store, {spec("shop.example.com"), spec("*.example.net")});

  DomainState denied = checked("denied", k_now + 900, "pinned");
  denied.relevant_owner = "domains.provider.example";
  denied.consecutive_failures = 0;
  denied.at_risk_reported = true;
  DomainState failed = checked("lookup_failed", k_now + 300);
  failed.failure_kind = "timeout";
  failed.consecutive_failures = 2;

  const std::vector<OutboxRoute> routes{
      {"everything", {}, Severity::info},
      {"regressions", {"regression"}, Severity::warning},
      {"pager", {}, Severity::critical},
  };
  write(*store,
        {CheckWrite{id_of(*store, "shop.example.com"),
                    "shop.example.com",
                    denied,
                    {event("regression", Severity::critical, "shop.example.com"),
                     event("renewal_at_risk", Severity::warning, "shop.example.com")}},
         CheckWrite{id_of(*store, "*.example.net"),
                    "*.example.net",
                    failed,
                    {event("lookup_failure", Severity::info, "")}}},
        routes);

  RawDb raw(path);
  // First checks: each starts a run in domain_state; no run has ended yet.
  CHECK(raw.integer("SELECT count(*) FROM check_history") == 0);
  CHECK(raw.integer("SELECT count(*) FROM domain_state WHERE run_checks = 1 AND run_started_at = " +
                    std::to_string(k_now)) == 2);
  CHECK(raw.integer("SELECT count(*) FROM events") == 3);
  // An event without a subject takes its check's.
  CHECK(raw.row("SELECT subject FROM events WHERE kind = 'lookup_failure'") == "*.example.net");
  CHECK(raw.row("SELECT data_json FROM events WHERE kind = 'regression'") == R"({"domain":"x"})");
  CHECK(raw.row("SELECT severity FROM events WHERE kind = 'renewal_at_risk'") == "warning");
  // everything: 3; regressions: the critical regression; pager: the regression.
  CHECK(raw.integer("SELECT count(*) FROM outbox WHERE endpoint = 'everything'") == 3);
  CHECK(raw.integer("SELECT count(*) FROM outbox WHERE endpoint = 'regressions'") == 1);
  CHECK(raw.integer("SELECT count(*) FROM outbox WHERE endpoint = 'pager'") == 1);
  CHECK(raw.integer("SELECT count(*) FROM outbox o JOIN events e ON e.id = o.event_id "
                    "WHERE o.endpoint = 'pager' AND e.kind = 'regression'") == 1);
  CHECK(raw.integer("SELECT count(*) FROM outbox WHERE state = 'pending' AND attempts = 0 "
                    "AND next_attempt_at = " +
                    std::to_string(k_now)) == 5);

  auto due = store->due(k_now + 900, 10);
  REQUIRE(due.has_value());
  REQUIRE(due->size() == 2);
  const DomainState& f = (*due)[0].state;
  CHECK(f.verdict == "lookup_failed");
  CHECK(f.failure_kind == "timeout");
  CHECK_FALSE(f.relevant_owner.has_value());
  CHECK(f.consecutive_failures == 2);
  const DomainState& d = (*due)[1].state;
  CHECK(d.verdict == "denied");
  CHECK(d.exposure == "pinned");
  CHECK(d.relevant_owner == "domains.provider.example");
  CHECK(d.reason == "a reason");
  // due() leaves the result on disk and returns its digest.
  CHECK(d.result_json.empty());
  CHECK(d.result_digest == 0x8000'0000'0000'0001);
  CHECK(RawDb(path).row("SELECT result_json FROM domain_state WHERE domain_id = " +
                        std::to_string((*due)[1].domain.id)) == R"({"verdict":"x"})");
  CHECK(d.last_checked_at == k_now);
  CHECK(d.changed_at == k_now);
  CHECK(d.at_risk_reported);

  auto counts = store->counts(k_now);
  REQUIRE(counts.has_value());
  CHECK(counts->outbox_pending == 5);
  CHECK(counts->outbox_dead == 0);
}

TEST_CASE("a check that found what the state says writes times and counters; a changed one ends the run") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  auto store = open_store(path);
  upsert(*store, {spec("a.example")});
  const std::int64_t id = id_of(*store, "a.example");
  write(*store, {CheckWrite{id, "a.example", checked("denied", k_now + 60), {}}});

  DomainState next = checked("denied", k_now + 7200);
  next.last_checked_at = k_now + 3600;
  next.consecutive_failures = 0;
  next.at_risk_reported = true;
  next.run_checks = 2;
  next.result_json = "not written";  // the store must not look at it
  next.result_digest = 7;             // nor at this
  CheckWrite same{id, "a.example", next, {}};
  same.result_changed = false;
  write(*store, {same});

  RawDb raw(path);
  CHECK(raw.integer("SELECT count(*) FROM check_history") == 0);
  CHECK(raw.row("SELECT run_started_at || ' ' || run_checks FROM domain_state") ==
        std::to_string(k_now) + " 2");
  auto due = store->due(k_now + 7200, 10);
  REQUIRE(due->size() == 1);
  const DomainState& stored = (*due)[0].state;
  CHECK(raw.row("SELECT result_json FROM domain_state") == R"({"verdict":"x"})");
  CHECK(stored.result_digest == 0x8000'0000'0000'0001);
  CHECK(stored.last_checked_at == k_now + 3600);
  CHECK(stored.next_check_at == k_now + 7200);
  CHECK(stored.at_risk_reported);

  // A change to the domain while that check ran still brings it back at once.
  const UnixSeconds seen = (*due)[0].domain.updated_at;
  upsert(*store, {spec("a.example", {}, k_now + 30 * 86400)}, false, k_now + 1);
  same.seen_updated_at = seen;
  write(*store, {same});
  CHECK(store->due(k_now + 2, 10)->size() == 1);

  // A different result ends the run: the run, with the result it found,
  // moves to check_history, and the new result starts a run of one.
  DomainState changed = checked("permitted", k_now + 90000);
  changed.last_checked_at = k_now + 7300;
  changed.run_started_at = k_now + 7300;
  changed.result_json = R"({"verdict":"y"})";
  changed.result_digest = 9;
  write(*store, {CheckWrite{id, "a.example", changed, {}}});
  CHECK(raw.row("SELECT first_checked_at || ' ' || checked_at || ' ' || checks || ' ' || verdict || "
                "' ' || result_json FROM check_history WHERE subject = 'a.example'") ==
        std::to_string(k_now) + " " + std::to_string(k_now + 3600) + R"( 2 denied {"verdict":"x"})");
  CHECK(raw.row("SELECT run_started_at || ' ' || run_checks || ' ' || verdict || ' ' || result_json "
                "FROM domain_state") == std::to_string(k_now + 7300) + R"( 1 permitted {"verdict":"y"})");
  CHECK(raw.integer("SELECT count(*) FROM check_history") == 1);

  // A domain removed meanwhile gets no state row back.
  REQUIRE(store->remove(*caad::dns::parse_domain("a.example")).value());
  CHECK(raw.integer("SELECT count(*) FROM check_history") == 2);
  write(*store, {same});
  CHECK(raw.integer("SELECT count(*) FROM domain_state") == 0);
  CHECK(raw.integer("SELECT count(*) FROM check_history") == 2);
}

TEST_CASE("a failure in a write_checks batch writes nothing of it") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  auto store = open_store(path);
  upsert(*store, {spec("good.example.com"), spec("bad.example.com")});
  const std::vector<OutboxRoute> routes{{"everything", {}, Severity::info}};

  auto r = store->write_checks(
      std::vector<CheckWrite>{
          CheckWrite{id_of(*store, "good.example.com"),
                     "good.example.com",
                     checked("denied", k_now + 60),
                     {event("regression", Severity::critical, "good.example.com")}},
          CheckWrite{id_of(*store, "bad.example.com"),
                     "bad.example.com",
                     checked("maybe", k_now + 60),
                     {}}},
      routes);
  REQUIRE_FALSE(r.has_value());
  CAPTURE(r.error().message);
  CHECK(contains(r.error().message,
                 "cannot write check results to " + path + " (at bad.example.com): "));
  CHECK(contains(r.error().message, "CHECK constraint failed"));

  RawDb raw(path);
  CHECK(raw.integer("SELECT count(*) FROM check_history") == 0);
  CHECK(raw.integer("SELECT count(*) FROM events") == 0);
  CHECK(raw.integer("SELECT count(*) FROM outbox") == 0);
  CHECK(raw.integer("SELECT count(*) FROM domain_state WHERE verdict = ''") == 2);

  SUBCASE("invalid JSON in a result is refused the same way") {
    DomainState broken = checked("permitted", k_now + 60);
    broken.result_json = "{not json";
    auto again = store->write_checks(
        std::vector<CheckWrite>{
            CheckWrite{id_of(*store, "good.example.com"),
                       "good.example.com",
                       checked("permitted", k_now + 60),
                       {}},
            CheckWrite{id_of(*store, "bad.example.com"), "bad.example.com", broken, {}}},
        routes);
    REQUIRE_FALSE(again.has_value());
    CHECK(raw.integer("SELECT count(*) FROM check_history") == 0);
  }
  // The store is usable after the rollback.
  write(*store,
        {CheckWrite{id_of(*store, "good.example.com"),
                    "good.example.com",
                    checked("permitted", k_now + 60),
                    {event("recovery", Severity::info, "good.example.com")}}},
        routes);
  CHECK(raw.integer("SELECT count(*) FROM outbox") == 1);
}

TEST_CASE("a check of a domain removed meanwhile keeps its events, not its state") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  auto store = open_store(path);
  upsert(*store, {spec("gone.example.com")});
  const std::int64_t id = id_of(*store, "gone.example.com");
  REQUIRE(*store->remove(request("gone.example.com")));
  // A new domain must not inherit the removed one's id (and so its result).
  upsert(*store, {spec("new.example.com")});
  CHECK(id_of(*store, "new.example.com") != id);

  write(*store,
        {CheckWrite{id,
                    "gone.example.com",
                    checked("denied", k_now + 60),
                    {event("regression", Severity::critical, "gone.example.com")}}},
        {{"everything", {}, Severity::info}});
  RawDb raw(path);
  CHECK(raw.integer("SELECT count(*) FROM domain_state WHERE domain_id = " + std::to_string(id)) ==
        0);
  // Its history ended with the remove (it had none: never checked).
  CHECK(raw.integer("SELECT count(*) FROM check_history WHERE subject = 'gone.example.com'") == 0);
  CHECK(raw.integer("SELECT count(*) FROM events") == 1);
  CHECK(raw.integer("SELECT count(*) FROM outbox") == 1);
  CHECK(store->due(k_now, 10)->size() == 1);  // new.example.com, still unchecked
}

TEST_CASE("provider targets: state, events and the count of pinned domains") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  auto store = open_store(path);
  const std::string target = "domains.provider.example";
  CHECK_FALSE(store->target_state(target)->has_value());
  CHECK(*store->count_pinned_to(target) == 0);

  upsert(*store, {spec("a.example"), spec("b.example"), spec("c.example"), spec("d.example")});
  DomainState pinned = checked("permitted", k_now + 60, "pinned");
  pinned.relevant_owner = target;
  DomainState elsewhere = checked("permitted", k_now + 60, "pinned");
  elsewhere.relevant_owner = "other.provider.example";
  DomainState exposed = checked("permitted", k_now + 60, "exposed");
  exposed.relevant_owner = target;  // its own records decide, whatever the owner says
  write(*store, {CheckWrite{id_of(*store, "a.example"), "a.example", pinned, {}},
                 CheckWrite{id_of(*store, "b.example"), "b.example", pinned, {}},
                 CheckWrite{id_of(*store, "c.example"), "c.example", elsewhere, {}},
                 CheckWrite{id_of(*store, "d.example"), "d.example", exposed, {}}});
  CHECK(*store->count_pinned_to(target) == 2);
  CHECK(*store->count_pinned_to("other.provider.example") == 1);

  DomainState broken = checked("denied", k_now + 300);
  broken.reason = "CAA at domains.provider.example no longer permits letsencrypt.org";
  const std::vector<Event> events{Event{"provider_target_broken", Severity::critical, target, k_now,
                                        nlohmann::json{{"pinned_domains", 2}}}};
  auto r = store->write_target(target, broken, events,
                               std::vector<OutboxRoute>{{"pager", {}, Severity::critical}});
  REQUIRE(r.has_value());
  auto state = store->target_state(target);
  REQUIRE(state.has_value());
  REQUIRE(state->has_value());
  CHECK((*state)->verdict == "denied");
  CHECK((*state)->reason == broken.reason);
  CHECK((*state)->next_check_at == k_now + 300);
  CHECK((*state)->result_json == broken.result_json);
  CHECK((*state)->result_digest == broken.result_digest);

  broken.verdict = "permitted";
  REQUIRE(store->write_target(target, broken, {}, {}).has_value());
  CHECK((*store->target_state(target))->verdict == "permitted");

  RawDb raw(path);
  CHECK(raw.integer("SELECT count(*) FROM provider_targets") == 1);
  CHECK(raw.row("SELECT e.data_json FROM outbox o JOIN events e ON e.id = o.event_id "
                "WHERE o.endpoint = 'pager'") == R"({"pinned_domains":2})");
}

TEST_CASE("counts sums up the enabled domains by verdict, exposure and due time") {
  TempDir dir;
  auto store = open_store(dir.file("caad.db"));
  auto empty = store->counts(k_now);
  REQUIRE(empty.has_value());
  CHECK(empty->domains == 0);
  CHECK(empty->due == 0);

  DomainSpec off = spec("off.example");
  off.enabled = false;
  upsert(*store, {spec("p.example"), spec("d.example"), spec("f.example"), spec("u.example"),
                  spec("x.example"), off});
  write(
      *store,
      {CheckWrite{
           id_of(*store, "p.example"), "p.example", checked("permitted", k_now + 60, "pinned"), {}},
       CheckWrite{id_of(*store, "d.example"), "d.example", checked("denied", k_now - 60), {}},
       CheckWrite{id_of(*store, "f.example"), "f.example", checked("lookup_failed", k_now), {}},
       CheckWrite{id_of(*store, "x.example"), "x.example", checked("denied", k_now + 60), {}},
       CheckWrite{id_of(*store, "off.example"), "off.example", checked("denied", k_now), {}}});
  auto c = store->counts(k_now);
  REQUIRE(c.has_value());
  CHECK(c->domains == 6);
  CHECK(c->enabled == 5);
  CHECK(c->due == 3);  // d (past), f (now), u (never checked)
  CHECK(c->permitted == 1);
  CHECK(c->denied == 2);
  CHECK(c->failing == 1);
  CHECK(c->unchecked == 1);
  CHECK(c->pinned == 1);
  CHECK(c->exposed == 3);
  // The same, by (verdict, exposure); the disabled domain is in none.
  std::map<std::string, std::size_t> by;
  for (const auto& g : c->by_verdict_exposure) by[g.verdict + "/" + g.exposure] += g.count;
  CHECK(by == std::map<std::string, std::size_t>{{"permitted/pinned", 1},
                                                 {"denied/exposed", 2},
                                                 {"lookup_failed/exposed", 1},
                                                 {"unchecked/unknown", 1}});
}

TEST_CASE("schema 3: counting reads indexes, not domain_state's rows") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  auto store = open_store(path);
  RawDb raw(path);
  CHECK(raw.integer("SELECT count(*) FROM sqlite_schema WHERE name IN ('domain_state_verdict', 'domains_disabled')") ==
        2);
  // What SQLite plans for the grouping: a covering index scan.
  CHECK(raw.plan("SELECT verdict, exposure, count(*) FROM domain_state GROUP BY verdict, exposure")
            .find("COVERING INDEX domain_state_verdict") != std::string::npos);
}

TEST_CASE("prune_history deletes only rows older than the cut-off") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  auto store = open_store(path);
  upsert(*store, {spec("a.example")});
  const std::int64_t id = id_of(*store, "a.example");
  for (UnixSeconds at : {k_now - 300, k_now - 200, k_now - 100, k_now}) {
    DomainState s = checked("permitted", at + 60);
    s.last_checked_at = at;
    s.run_started_at = at;
    write(*store, {CheckWrite{id, "a.example", s, {}}});
  }
  // Each write ended the run before it: three runs in check_history, the
  // fourth still in domain_state.
  auto pruned = store->prune_history(k_now - 150);
  REQUIRE(pruned.has_value());
  CHECK(*pruned == 2);
  CHECK(*store->prune_history(k_now - 150) == 0);
  CHECK(RawDb(path).integer("SELECT min(checked_at) FROM check_history") == k_now - 100);
}

TEST_CASE("note_heartbeat records the sweep, the pid and the status line") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  auto store = open_store(path);
  REQUIRE(store->note_heartbeat(k_now, "12 domains, 3 due, 0 failing").has_value());
  REQUIRE(store->note_heartbeat(k_now + 30, "12 domains, 0 due, 0 failing").has_value());
  RawDb raw(path);
  CHECK(raw.integer("SELECT count(*) FROM daemon") == 1);
  CHECK(raw.integer("SELECT heartbeat_at FROM daemon") == k_now + 30);
  CHECK(raw.integer("SELECT last_sweep_at FROM daemon") == k_now + 30);
  CHECK(raw.integer("SELECT pid FROM daemon") == getpid());
  CHECK(raw.row("SELECT status_line FROM daemon") == "12 domains, 0 due, 0 failing");
}

TEST_CASE("a reader sees the last committed state while a write transaction is open (WAL)") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  auto writer = open_store(path);
  upsert(*writer, {spec("a.example"), spec("b.example")});

  // A second writer connection holds a write transaction with uncommitted rows.
  RawDb busy(path);
  busy.exec("BEGIN IMMEDIATE");
  busy.exec(
      "INSERT INTO domains (name, wildcard, cas, added_at, updated_at) "
      "VALUES ('uncommitted.example', 0, '[]', 1, 1)");

  // Opening and reading do not wait for it (no "database is locked" after
  // the busy timeout) and do not see its rows.
  const auto started = std::chrono::steady_clock::now();
  auto reader = open_store(path, Mode::read_only);
  auto all = reader->list(100, 0);
  REQUIRE(all.has_value());
  CHECK(all->size() == 2);
  auto c = reader->counts(k_now);
  REQUIRE(c.has_value());
  CHECK(c->domains == 2);
  CHECK(reader->due(k_now, 10)->size() == 2);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));

  busy.exec("COMMIT");
  CHECK(reader->list(100, 0)->size() == 3);

  // Later commits by the store's own writer are visible to the next read.
  upsert(*writer, {spec("c.example")});
  CHECK(reader->list(100, 0)->size() == 4);
  auto ok = reader->integrity_ok();
  REQUIRE(ok.has_value());
  CHECK(*ok);
}

TEST_CASE("integrity_ok after a busy life") {
  TempDir dir;
  auto store = open_store(dir.file("caad.db"));
  std::vector<DomainSpec> specs;
  for (int i = 0; i < 500; ++i) specs.push_back(spec("n" + std::to_string(i) + ".example"));
  upsert(*store, specs);
  for (int i = 0; i < 500; i += 2)
    REQUIRE(*store->remove(request("n" + std::to_string(i) + ".example")));
  auto ok = store->integrity_ok();
  REQUIRE(ok.has_value());
  CHECK(*ok);
}

TEST_CASE("100,000 domains upsert in one transaction") {
  TempDir dir;
  auto store = open_store(dir.file("caad.db"));
  std::vector<DomainSpec> specs;
  specs.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) {
    specs.push_back(
        spec("host" + std::to_string(i) + ".customer" + std::to_string(i % 997) + ".example",
             {"letsencrypt", "sectigo"}, k_now + i));
  }
  auto started = std::chrono::steady_clock::now();
  auto report = upsert(*store, specs);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  started);
  MESSAGE("100,000 new domains upserted in " << ms.count() << " ms");
  CHECK(report.added == 100'000);

  started = std::chrono::steady_clock::now();
  report = upsert(*store, specs);
  ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                             started);
  MESSAGE("the same 100,000 domains upserted again (unchanged) in " << ms.count() << " ms");
  CHECK(report.unchanged == 100'000);
  CHECK(report.changes.empty());

  started = std::chrono::steady_clock::now();
  auto due = store->due(k_now, 1000);
  auto next = store->next_due();
  auto c = store->counts(k_now);
  ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                             started);
  MESSAGE("due(1000), next_due() and counts() over 100,000 domains in " << ms.count() << " ms");
  REQUIRE(next.has_value());
  CHECK(*next == 0);
  REQUIRE(due.has_value());
  CHECK(due->size() == 1000);
  REQUIRE(c.has_value());
  CHECK(c->unchecked == 100'000);
}

TEST_CASE("severities and outbox routes") {
  CHECK(std::string(caad::store::to_string(Severity::warning)) == "warning");
  CHECK(caad::store::parse_severity("critical") == Severity::critical);
  CHECK(caad::store::parse_severity("info") == Severity::info);
  CHECK_FALSE(caad::store::parse_severity("Critical").has_value());
  CHECK_FALSE(caad::store::parse_severity("").has_value());

  const OutboxRoute all{"a", {}, Severity::info};
  const OutboxRoute picky{"b", {"regression", "recovery"}, Severity::warning};
  CHECK(all.wants(event("anything", Severity::info, "x")));
  CHECK(picky.wants(event("regression", Severity::warning, "x")));
  CHECK(picky.wants(event("recovery", Severity::critical, "x")));
  CHECK_FALSE(picky.wants(event("recovery", Severity::info, "x")));
  CHECK_FALSE(picky.wants(event("renewal_at_risk", Severity::critical, "x")));
}

TEST_CASE("a domain changed while its check ran is checked again at once") {
  TempDir dir;
  auto store = open_store(dir.file("caad.db"));
  upsert(*store, {spec("shop.example.com", {"letsencrypt"})}, false, k_now);
  auto due = store->due(k_now, 10);
  REQUIRE(due->size() == 1);
  const UnixSeconds seen = (*due)[0].domain.updated_at;
  const std::int64_t id = (*due)[0].domain.id;

  // The import moves the renewal date a second later, while the check runs.
  upsert(*store, {spec("shop.example.com", {"letsencrypt"}, k_now + 30 * 86400)}, false, k_now + 1);
  write(*store, {CheckWrite{id, "shop.example.com", checked("permitted", k_now + 86400), {}, seen}});
  CHECK(store->due(k_now + 2, 10)->size() == 1);

  // Without a change in between, the check's own schedule stands.
  auto again = store->due(k_now + 2, 10);
  write(*store, {CheckWrite{id, "shop.example.com", checked("permitted", k_now + 86400), {},
                            (*again)[0].domain.updated_at}});
  CHECK(store->due(k_now + 2, 10)->empty());
}

// ---- The webhook sender's side of the outbox (issue 5) -----------------

namespace {

using caad::store::DisabledEndpoint;
using caad::store::OutboxRow;
using caad::store::OutboxState;
using caad::store::OutboxUpdate;

// Three domains with one regression each, routed to endpoints "a" and "b":
// outbox rows 1..6 alternate a, b (event by event).
std::unique_ptr<Store> outbox_store(const TempDir& dir) {
  auto store = open_store(dir.file("caad.db"));
  upsert(*store, {spec("one.example"), spec("two.example"), spec("three.example")});
  std::vector<CheckWrite> checks;
  for (const char* name : {"one.example", "two.example", "three.example"}) {
    Event e = event("regression", Severity::critical, name);
    e.data = nlohmann::json{{"domain", name}, {"remedy", "fix it"}};
    checks.push_back(CheckWrite{id_of(*store, name), name, checked("denied", k_now + 900), {e}});
  }
  write(*store, checks, {{"a", {}, Severity::info}, {"b", {}, Severity::info}});
  return store;
}

std::vector<OutboxRow> deliverable(Store& store, UnixSeconds now, std::vector<std::string> endpoints = {"a", "b"},
                                   std::size_t per_endpoint = 100) {
  auto rows = store.deliverable(now, endpoints, per_endpoint);
  if (!rows) FAIL_CHECK(rows.error().message);
  REQUIRE(rows.has_value());
  return *rows;
}

std::vector<std::int64_t> ids(const std::vector<OutboxRow>& rows) {
  std::vector<std::int64_t> out;
  for (const OutboxRow& r : rows) out.push_back(r.id);
  return out;
}

void record(Store& store, const std::vector<OutboxUpdate>& updates,
            const std::optional<DisabledEndpoint>& disable = std::nullopt) {
  auto r = store.record_deliveries(updates, disable);
  if (!r) FAIL_CHECK(r.error().message);
  REQUIRE(r.has_value());
}

}  // namespace

TEST_CASE("schema 2 adds the disabled webhook endpoints") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  auto store = open_store(path);
  CHECK(Store::latest_schema_version() >= 2);
  RawDb raw(path);
  CHECK(raw.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'webhook_endpoints'") == 1);
  CHECK(raw.integer("SELECT count(*) FROM sqlite_schema WHERE name IN ('outbox_pending_order', 'outbox_pending_retry')") == 2);
}

TEST_CASE("deliverable: due pending rows with their events, in id order, per endpoint and limited") {
  TempDir dir;
  auto store = outbox_store(dir);
  const std::vector<OutboxRow> rows = deliverable(*store, k_now);
  CHECK(ids(rows) == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});
  const OutboxRow& first = rows.front();
  CHECK(first.endpoint == "a");
  CHECK(first.event_id == 1);
  CHECK(first.attempts == 0);
  CHECK(first.created_at == k_now);
  CHECK_FALSE(first.last_error.has_value());
  CHECK(first.event.kind == "regression");
  CHECK(first.event.severity == Severity::critical);
  CHECK(first.event.subject == "one.example");
  CHECK(first.event.at == k_now);
  CHECK(first.event.data["domain"] == "one.example");
  CHECK(rows[1].endpoint == "b");

  CHECK(ids(deliverable(*store, k_now, {"b"})) == std::vector<std::int64_t>{2, 4, 6});
  CHECK(ids(deliverable(*store, k_now, {"a", "b"}, 2)) == std::vector<std::int64_t>{1, 2, 3, 4});
  CHECK(deliverable(*store, k_now, {"c"}).empty());
  CHECK(deliverable(*store, k_now, {}).empty());
  CHECK(deliverable(*store, k_now - 1).empty());  // not due yet
}

TEST_CASE("record_deliveries: delivered, retried (holding the endpoint back), dead; final states stay") {
  TempDir dir;
  const std::string path = dir.file("caad.db");
  auto store = outbox_store(dir);
  record(*store, {{1, OutboxState::delivered, true, k_now + 1, 0, std::nullopt},
                  {2, OutboxState::pending, true, k_now + 1, k_now + 60, "HTTP 503"}});
  RawDb raw(path);
  CHECK(raw.row("SELECT state || ',' || attempts || ',' || delivered_at FROM outbox WHERE id = 1") ==
        "delivered,1," + std::to_string(k_now + 1));
  CHECK(raw.row("SELECT state || ',' || attempts || ',' || next_attempt_at || ',' || last_error FROM outbox "
                "WHERE id = 2") == "pending,1," + std::to_string(k_now + 60) + ",HTTP 503");

  // Row 2 waits: nothing of "b" overtakes it; "a" goes on.
  CHECK(ids(deliverable(*store, k_now + 1)) == std::vector<std::int64_t>{3, 5});
  // Its time comes: "b" again, row 2 first, with its attempt and error.
  const std::vector<OutboxRow> later = deliverable(*store, k_now + 60);
  CHECK(ids(later) == std::vector<std::int64_t>{2, 3, 4, 5, 6});
  CHECK(later[0].attempts == 1);
  CHECK(later[0].last_error == "HTTP 503");

  record(*store, {{3, OutboxState::dead, false, k_now + 2, 0, "dead: 10 attempts failed"}});
  CHECK(raw.row("SELECT state || ',' || attempts || ',' || last_error FROM outbox WHERE id = 3") ==
        "dead,0,dead: 10 attempts failed");
  auto counts = store->counts(k_now);
  REQUIRE(counts.has_value());
  CHECK(counts->outbox_dead == 1);
  CHECK(counts->outbox_pending == 4);

  // A late or repeated outcome does not undo a final state.
  record(*store, {{1, OutboxState::pending, true, k_now + 5, k_now + 99, "late"},
                  {3, OutboxState::delivered, true, k_now + 5, 0, std::nullopt}});
  CHECK(raw.row("SELECT state || ',' || attempts FROM outbox WHERE id = 1") == "delivered,1");
  CHECK(raw.row("SELECT state FROM outbox WHERE id = 3") == "dead");
  // An error left out keeps the one recorded.
  record(*store, {{2, OutboxState::pending, true, k_now + 60, k_now + 200, std::nullopt}});
  CHECK(raw.row("SELECT attempts || ',' || last_error FROM outbox WHERE id = 2") == "2,HTTP 503");
}

TEST_CASE("a disabled endpoint gets nothing until it is enabled again") {
  TempDir dir;
  auto store = outbox_store(dir);
  const std::string fingerprint(64, 'f');
  record(*store, {{2, OutboxState::pending, true, k_now, k_now, "HTTP 410: endpoint disabled"}},
         DisabledEndpoint{"b", fingerprint, k_now, "HTTP 410"});
  auto disabled = store->disabled_endpoints();
  REQUIRE(disabled.has_value());
  REQUIRE(disabled->size() == 1);
  CHECK((*disabled)[0].name == "b");
  CHECK((*disabled)[0].url_sha256 == fingerprint);
  CHECK((*disabled)[0].disabled_at == k_now);
  CHECK((*disabled)[0].reason == "HTTP 410");
  CHECK(ids(deliverable(*store, k_now)) == std::vector<std::int64_t>{1, 3, 5});

  // Disabled again (say, after a restart): one row, the latest reason.
  record(*store, {}, DisabledEndpoint{"b", fingerprint, k_now + 5, "HTTP 410 again"});
  CHECK(store->disabled_endpoints()->size() == 1);
  CHECK(store->disabled_endpoints()->front().reason == "HTTP 410 again");

  REQUIRE(store->enable_endpoint("b").has_value());
  CHECK(store->disabled_endpoints()->empty());
  CHECK(ids(deliverable(*store, k_now)) == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});

  // A reader may look, not write.
  auto reader = open_store(dir.file("caad.db"), Mode::read_only);
  CHECK(reader->deliverable(k_now, std::vector<std::string>{"a"}, 10)->size() == 3);
  CHECK_FALSE(reader->enable_endpoint("b").has_value());
  CHECK_FALSE(reader->record_deliveries({}, std::nullopt).has_value());
}

TEST_CASE("a store refuses a page cache of less than 1 KiB, naming the file") {
  auto r = Store::open("/nonexistent/caad.db", Mode::read_write, 0);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "the page cache size for /nonexistent/caad.db must be at least 1 KiB");
}
