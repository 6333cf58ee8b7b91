// Tests for lib/status/render: relative and absolute times, CSV quoting,
// terminal-safe text, aligned tables, colour (and NO_COLOR), and the JSON
// and CSV fields of every view, from plain structs and a fixed "now".
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "lib/status/render.h"

using namespace caad;
using namespace caad::status;

namespace {

constexpr UnixSeconds k_now = 1'780'000'000;  // 2026-05-28T20:26:40Z
constexpr std::int64_t k_hour = 3600;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

DomainRow shop() {
  DomainRow d;
  d.id = 7;
  d.subject = d.name = "shop.customer.test";
  d.cas = {"letsencrypt", "digicert"};
  d.renew_at = k_now + 2 * k_day + k_hour;
  d.renewal = d.renew_at;
  d.verdict = "denied";
  d.exposure = "exposed";
  d.relevant_owner = "customer.test";
  d.reason =
      "The CAA record at customer.test, \"0 issue \\\"digicert.com\\\"\", does not allow "
      "letsencrypt.org.";
  d.last_checked_at = k_now - 3 * k_hour;
  d.changed_at = k_now - 3 * k_hour;
  d.next_check_at = k_now + k_hour;
  return d;
}

DomainRow fresh() {
  DomainRow d;
  d.id = 8;
  d.subject = "*.fresh.test";
  d.name = "fresh.test";
  d.wildcard = true;
  return d;
}

Summary summary() {
  Summary s;
  s.database = "/var/lib/caad/caad.db";
  s.schema = 1;
  s.domains = DomainCounts{3, 2, 1, 0, 1, 0, 1, 0, 1};
  s.at_risk = {shop()};
  s.at_risk_total = 1;
  s.targets.push_back(TargetRow{"t.provider.test", "permitted", "exposed", "t.provider.test",
                                std::nullopt, "allowed", k_now - 60, k_now - 86400, 0, 12});
  s.outbox = OutboxCounts{3, 1};
  s.daemon = DaemonRow{4242, k_now - 10, k_now - 10, "domains 2, due 1"};
  return s;
}

RenderOptions table_at(UnixSeconds now, bool color = false) {
  return RenderOptions{Format::table, color, now};
}

}  // namespace

TEST_CASE("relative times round down to the largest unit that fits") {
  CHECK(format_relative(k_now, k_now) == "now");
  CHECK(format_relative(k_now - 45, k_now) == "45s ago");
  CHECK(format_relative(k_now + 59, k_now) == "in 59s");
  CHECK(format_relative(k_now - 60, k_now) == "1m ago");
  CHECK(format_relative(k_now - 3599, k_now) == "59m ago");
  CHECK(format_relative(k_now - 3 * k_hour - 59 * 60, k_now) == "3h ago");
  CHECK(format_relative(k_now + 30 * k_hour, k_now) == "in 30h");
  CHECK(format_relative(k_now + 48 * k_hour - 1, k_now) == "in 47h");
  CHECK(format_relative(k_now + 2 * k_day, k_now) == "in 2d");
  CHECK(format_relative(k_now + 12 * k_day + 23 * k_hour, k_now) == "in 12d");
  CHECK(format_relative(k_now - 400 * k_day, k_now) == "400d ago");
  CHECK(format_when(k_now - 3 * k_hour, k_now) == "3h ago (2026-05-28T17:26:40Z)");
  CHECK(format_when(0, k_now) == "never");
}

TEST_CASE("days until a time round towards the past, as events' days_left") {
  CHECK(days_until(k_now, k_now + 36 * k_hour) == 1);
  CHECK(days_until(k_now, k_now + 2 * k_day) == 2);
  CHECK(days_until(k_now, k_now) == 0);
  CHECK(days_until(k_now, k_now - 12 * k_hour) == -1);
  CHECK(days_until(k_now, k_now - 2 * k_day) == -2);
}

TEST_CASE("CSV fields are quoted per RFC 4180 only when they must be") {
  CHECK(csv_field("plain") == "plain");
  CHECK(csv_field("") == "");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("two\nlines") == "\"two\nlines\"");
  CHECK(csv_field("cr\r") == "\"cr\r\"");
  CHECK(csv_field(" spaced ") == " spaced ");
  const std::vector<std::string> fields{"x", "0 issue \"a.b\"", "c,d", ""};
  CHECK(csv_record(fields) == "x,\"0 issue \"\"a.b\"\"\",\"c,d\",\r\n");
}

TEST_CASE("text from the database cannot reach the terminal as control sequences") {
  CHECK(printable("plain text") == "plain text");
  CHECK(printable("\x1b[31mred") == "\\x1B[31mred");
  CHECK(printable("a\nb\tc\rd") == "a\\x0Ab\\x09c\\x0Dd");
  CHECK(printable("\x7f") == "\\x7F");
  CHECK(printable("b\xc3\xbc\x63her.example") == "b\xc3\xbc\x63her.example");  // ü stays
  CHECK(printable("\xc2\x9b"
                  "2J") == "<U+009B>2J");  // C1 CSI
  CHECK(printable("\xe2\x80\xae"
                  "gnp") == "<U+202E>gnp");  // bidi override
  CHECK(printable("\xff\xfe") == "\\xFF\\xFE");
  CHECK(display_width("b\xc3\xbc\x63her") == 6);
}

TEST_CASE("colour: only when asked for, on a terminal, and never under NO_COLOR") {
  CHECK(use_color(ColorMode::automatic, true, false));
  CHECK_FALSE(use_color(ColorMode::automatic, false, false));
  CHECK_FALSE(use_color(ColorMode::automatic, true, true));
  CHECK_FALSE(use_color(ColorMode::never, true, false));
  CHECK(use_color(ColorMode::always, false, false));
  CHECK(use_color(ColorMode::always, false, true));  // an explicit --color always wins
  CHECK(paint("denied", Colour::red, true) == "\033[31mdenied\033[0m");
  CHECK(paint("denied", Colour::red, false) == "denied");

  std::ostringstream plain, coloured;
  render_summary(plain, summary(), table_at(k_now, false));
  render_summary(coloured, summary(), table_at(k_now, true));
  CHECK_FALSE(contains(plain.str(), "\033["));
  CHECK(contains(coloured.str(), "\033[31mdenied\033[0m"));
}

TEST_CASE("tables align on display width, right-align numbers and carry no trailing blanks") {
  Table t({"NAME", "N", "NOTE"}, {Align::left, Align::right, Align::left});
  t.add({{"b\xc3\xbc\x63her.example"}, {"7"}, {""}});
  t.add({{"x"}, {"1234"}, {"long note"}});
  std::ostringstream out;
  t.render(out, false);
  CHECK(lines(out.str()) == std::vector<std::string>{
                                "NAME               N  NOTE",
                                "b\xc3\xbc\x63her.example     7",
                                "x               1234  long note",
                            });
  SUBCASE("colour does not shift the columns") {
    Table c({"VERDICT", "X"});
    c.add({{"denied", Colour::red}, {"a"}});
    c.add({{"permitted", Colour::green}, {"b"}});
    std::ostringstream painted;
    c.render(painted, true);
    CHECK(lines(painted.str())[1] == "\033[31mdenied\033[0m     a");
    CHECK(lines(painted.str())[2] == "\033[32mpermitted\033[0m  b");
  }
}

TEST_CASE("the summary screen") {
  std::ostringstream out;
  render_summary(out, summary(), table_at(k_now));
  const std::string text = out.str();
  INFO(text);
  auto l = lines(text);
  CHECK(l[0] == "Database    /var/lib/caad/caad.db (schema 1)");
  CHECK(l[1] == "Daemon      alive: heartbeat 10s ago (2026-05-28T20:26:30Z), pid 4242");
  CHECK(l[2] == "            domains 2, due 1");
  CHECK(l[3] == "Last sweep  10s ago (2026-05-28T20:26:30Z)");
  CHECK(l[4] == "Domains     2 watched, 1 disabled, 1 due now");
  CHECK(l[5] == "            permitted 0, denied 1, lookup_failed 0, unchecked 1");
  CHECK(l[6] == "            pinned 0, exposed 1");
  CHECK(l[7] == "Outbox      3 pending, 1 dead");
  CHECK(contains(text, "At risk: 1 denied or failing, soonest renewal first\n"));
  CHECK(contains(text,
                 "shop.customer.test  denied   exposed   in 2d (2026-05-30T21:26:40Z)  3h ago"));
  CHECK(contains(text, "Provider targets\nTARGET           VERDICT    PINNED  CHECKED"));
  CHECK(contains(text, "t.provider.test  permitted      12  1m ago"));

  SUBCASE("a daemon that stopped, and more at risk than shown") {
    Summary s = summary();
    s.at_risk_total = 4;
    s.at_risk_unknown_renewal = 2;
    std::ostringstream later;
    render_summary(later, s, table_at(k_now + 600));
    CHECK(contains(later.str(), "Daemon      not running? last heartbeat 10m ago"));
    CHECK(contains(later.str(), "At risk: 4 denied or failing (2 with no renewal date)"));
    CHECK(contains(later.str(), "... and 3 more: caad-status list --failing --sort renewal"));
  }
  SUBCASE("a daemon that never ran, nothing at risk, no targets") {
    Summary s;
    s.database = "caad.db";
    std::ostringstream empty;
    render_summary(empty, s, table_at(k_now));
    CHECK(contains(empty.str(), "Daemon      has never run on this database"));
    CHECK(contains(empty.str(), "At risk: none"));
    CHECK(contains(empty.str(), "Provider targets: none checked yet"));
  }
}

TEST_CASE("summary JSON: one line with the documented fields") {
  std::ostringstream out;
  render_summary(out, summary(), RenderOptions{Format::json, false, k_now});
  auto l = lines(out.str());
  REQUIRE(l.size() == 1);
  auto j = nlohmann::json::parse(l[0]);
  CHECK(j["database"] == "/var/lib/caad/caad.db");
  CHECK(j["schema"] == 1);
  CHECK(j["generated_at"] == "2026-05-28T20:26:40Z");
  CHECK(j["domains"] == nlohmann::json{{"total", 3},
                                       {"enabled", 2},
                                       {"due", 1},
                                       {"permitted", 0},
                                       {"denied", 1},
                                       {"lookup_failed", 0},
                                       {"unchecked", 1},
                                       {"pinned", 0},
                                       {"exposed", 1}});
  CHECK(j["at_risk"]["total"] == 1);
  CHECK(j["at_risk"]["unknown_renewal"] == 0);
  CHECK(j["at_risk"]["soonest"][0]["domain"] == "shop.customer.test");
  CHECK(j["provider_targets"][0]["pinned_domains"] == 12);
  CHECK(j["outbox"] == nlohmann::json{{"pending", 3}, {"dead", 1}});
  CHECK(j["daemon"]["alive"] == true);
  CHECK(j["daemon"]["pid"] == 4242);
  CHECK(j["daemon"]["heartbeat_at"] == "2026-05-28T20:26:30Z");
}

TEST_CASE("domain JSON: every documented field, nulls where unknown") {
  auto j = domain_json(shop(), k_now);
  const std::vector<std::string> keys = {"ca",         "changed_at",     "consecutive_failures",
                                         "days_left",  "domain",         "enabled",
                                         "exposure",   "failure_kind",   "last_checked_at",
                                         "name",       "next_check_at",  "not_after",
                                         "reason",     "relevant_owner", "renew_at",
                                         "renewal_at", "verdict",        "wildcard"};
  std::vector<std::string> got;
  for (const auto& [k, v] : j.items()) got.push_back(k);
  CHECK(got == keys);
  CHECK(j["domain"] == "shop.customer.test");
  CHECK(j["verdict"] == "denied");
  CHECK(j["renewal_at"] == "2026-05-30T21:26:40Z");
  CHECK(j["days_left"] == 2);
  CHECK(j["not_after"].is_null());
  CHECK(j["ca"] == nlohmann::json{"letsencrypt", "digicert"});

  auto u = domain_json(fresh(), k_now);
  CHECK(u["domain"] == "*.fresh.test");
  CHECK(u["name"] == "fresh.test");
  CHECK(u["wildcard"] == true);
  CHECK(u["verdict"] == "unchecked");
  CHECK(u["exposure"].is_null());
  CHECK(u["reason"].is_null());
  CHECK(u["renewal_at"].is_null());
  CHECK(u["days_left"].is_null());
  CHECK(u["last_checked_at"].is_null());
  CHECK(u["next_check_at"].is_null());  // 0: at once
}

TEST_CASE("list: a table, JSON Lines, or CSV with a header") {
  const std::vector<DomainRow> rows{shop(), fresh()};
  std::ostringstream table;
  render_domains(table, rows, table_at(k_now));
  auto t = lines(table.str());
  REQUIRE(t.size() == 3);
  CHECK(t[0].starts_with("DOMAIN              VERDICT    EXPOSURE  RENEWAL"));
  CHECK(t[2].starts_with("*.fresh.test        unchecked  -         unknown"));

  std::ostringstream json;
  render_domains(json, rows, RenderOptions{Format::json, false, k_now});
  auto jl = lines(json.str());
  REQUIRE(jl.size() == 2);
  CHECK(nlohmann::json::parse(jl[1])["domain"] == "*.fresh.test");

  std::ostringstream csv;
  render_domains(csv, rows, RenderOptions{Format::csv, false, k_now});
  const std::string c = csv.str();
  CHECK(
      c.starts_with("domain,wildcard,enabled,verdict,exposure,renewal_at,days_left,changed_at,"
                    "last_checked_at,next_check_at,relevant_owner,failure_kind,ca,reason\r\n"));
  CHECK(contains(c,
                 "\r\nshop.customer.test,false,true,denied,exposed,2026-05-30T21:26:40Z,2,"
                 "2026-05-28T17:26:40Z,2026-05-28T17:26:40Z,2026-05-28T21:26:40Z,customer.test,,"
                 "letsencrypt;digicert,\"The CAA record at customer.test, \"\"0 issue "));
  CHECK(contains(c, "\r\n*.fresh.test,true,true,unchecked,,,,,,,,,,\r\n"));

  std::ostringstream none;
  render_domains(none, {}, table_at(k_now));
  CHECK(none.str() == "no matching domains\n");
}

TEST_CASE("show: verdict per CA, records and their place, chain, renewal, checks and events") {
  DomainDetail d;
  d.subject = "shop.customer.test";
  d.domain = shop();
  CheckDetail c;
  c.verdict = "denied";
  c.exposure = "exposed";
  c.found_at = "customer.test";
  c.relevant_owner = "customer.test";
  c.records = {"0 issue \"digicert.com\""};
  c.cname_chain = {"t.provider.test"};
  c.cas = {CaResult{"letsencrypt", "letsencrypt.org", "denied", "Not allowed.", "not_authorized",
                    std::nullopt},
           CaResult{"digicert", "digicert.com", "permitted", "Allowed.", "authorized",
                    "0 issue \"digicert.com\""}};
  d.last_check = c;
  d.history = {HistoryRow{k_now - 3 * k_hour, k_now - 3 * k_hour, 1, "denied", "exposed",
                          std::nullopt, "Not allowed."},
               HistoryRow{k_now - 9 * k_hour, k_now - 4 * k_hour, 12, "permitted", "exposed",
                          std::nullopt, "Allowed."}};
  d.events = {EventRow{2, "shop.customer.test", "regression", "critical", k_now - 3 * k_hour,
                       nlohmann::json{{"reason", "Not allowed."}}}};
  std::ostringstream out;
  render_detail(out, d, table_at(k_now));
  const std::string text = out.str();
  INFO(text);
  CHECK(text.starts_with("shop.customer.test\n"));
  CHECK(contains(text, "verdict     denied, exposed; changed 3h ago (2026-05-28T17:26:40Z)\n"));
  CHECK(contains(text, "renewal     in 2d (2026-05-30T21:26:40Z), from renew_at\n"));
  CHECK(contains(text, "CAs         letsencrypt, digicert (primary first)\n"));
  CHECK(contains(text, "records     at customer.test\n              0 issue \"digicert.com\"\n"));
  CHECK(contains(text, "CNAME chain shop.customer.test -> t.provider.test\n"));
  CHECK(contains(text,
                 "letsencrypt  letsencrypt.org  denied     -                       Not allowed."));
  CHECK(contains(text,
                 "digicert     digicert.com     permitted  0 issue \"digicert.com\"  Allowed."));
  CHECK(contains(text,
                 "History (runs of checks that found the same result)\n"
                 "FIRST                          LAST                           CHECKS  VERDICT    "
                 "EXPOSURE  FAILURE  REASON\n"
                 "3h ago (2026-05-28T17:26:40Z)  3h ago (2026-05-28T17:26:40Z)       1  denied     "
                 "exposed   -        Not allowed.\n"
                 "9h ago (2026-05-28T11:26:40Z)  4h ago (2026-05-28T16:26:40Z)      12  permitted  "
                 "exposed   -        Allowed.\n"));
  CHECK(contains(text,
                 "Events\nAT                             SEVERITY  KIND        REASON\n"
                 "3h ago (2026-05-28T17:26:40Z)  critical  regression  Not allowed.\n"));

  std::ostringstream json;
  render_detail(json, d, RenderOptions{Format::json, false, k_now});
  auto j = nlohmann::json::parse(json.str());
  CHECK(j["subject"] == "shop.customer.test");
  CHECK(j["domain"]["verdict"] == "denied");
  CHECK(j["last_check"]["found_at"] == "customer.test");
  CHECK(j["last_check"]["records"][0] == "0 issue \"digicert.com\"");
  CHECK(j["last_check"]["cas"][1]["deciding_record"] == "0 issue \"digicert.com\"");
  CHECK(j["last_check"]["failure"].is_null());
  CHECK(j["history"][0]["checked_at"] == "2026-05-28T17:26:40Z");
  CHECK(j["history"][1]["first_checked_at"] == "2026-05-28T11:26:40Z");
  CHECK(j["history"][1]["checked_at"] == "2026-05-28T16:26:40Z");
  CHECK(j["history"][1]["checks"] == 12);
  CHECK(j["events"][0]["kind"] == "regression");

  SUBCASE("a removed domain, and a failed lookup") {
    d.domain.reset();
    d.last_check->failure = FailureInfo{"servfail", "customer.test", "SERVFAIL", "127.0.0.1:53"};
    std::ostringstream removed;
    render_detail(removed, d, table_at(k_now));
    CHECK(contains(removed.str(), "status      not in the database (removed)"));
    CHECK(contains(removed.str(),
                   "failure     servfail for customer.test from 127.0.0.1:53: SERVFAIL"));
    CHECK(contains(removed.str(), "records     unknown: the lookup failed"));
  }
}

TEST_CASE("events and outbox: tables, JSON Lines and CSV") {
  const std::vector<EventRow> events{
      EventRow{4, "api.customer.test", "lookup_failure", "warning", k_now - k_hour,
               nlohmann::json{{"reason", "SERVFAIL, twice"}, {"days_left", 10}}}};
  std::ostringstream table;
  render_events(table, events, table_at(k_now));
  CHECK(lines(table.str())[1] ==
        "1h ago (2026-05-28T19:26:40Z)  warning   lookup_failure  api.customer.test  SERVFAIL, "
        "twice");
  std::ostringstream json;
  render_events(json, events, RenderOptions{Format::json, false, k_now});
  auto j = nlohmann::json::parse(json.str());
  CHECK(j == nlohmann::json{{"id", 4},
                            {"at", "2026-05-28T19:26:40Z"},
                            {"subject", "api.customer.test"},
                            {"kind", "lookup_failure"},
                            {"severity", "warning"},
                            {"reason", "SERVFAIL, twice"},
                            {"data", {{"reason", "SERVFAIL, twice"}, {"days_left", 10}}}});
  std::ostringstream csv;
  render_events(csv, events, RenderOptions{Format::csv, false, k_now});
  CHECK(csv.str() ==
        "id,at,subject,kind,severity,reason\r\n"
        "4,2026-05-28T19:26:40Z,api.customer.test,lookup_failure,warning,\"SERVFAIL, twice\"\r\n");

  OutboxRow dead;
  dead.id = 2;
  dead.event_id = 2;
  dead.endpoint = "ops";
  dead.state = "dead";
  dead.attempts = 8;
  dead.next_attempt_at = k_now - k_hour;
  dead.created_at = k_now - 3 * k_hour;
  dead.last_error = "HTTP 500\nfrom hooks";
  dead.event_kind = "regression";
  dead.subject = "shop.customer.test";
  dead.severity = "critical";
  std::ostringstream ot;
  render_outbox(ot, std::vector<OutboxRow>{dead}, table_at(k_now));
  CHECK(lines(ot.str())[1] ==
        " 2  dead   ops       regression  shop.customer.test         8  created 3h ago "
        "(2026-05-28T17:26:40Z)  HTTP 500\\x0Afrom hooks");
  std::ostringstream oj;
  render_outbox(oj, std::vector<OutboxRow>{dead}, RenderOptions{Format::json, false, k_now});
  auto o = nlohmann::json::parse(oj.str());
  CHECK(o["state"] == "dead");
  CHECK(o["last_error"] == "HTTP 500\nfrom hooks");
  CHECK(o["delivered_at"].is_null());
  CHECK(o["event_kind"] == "regression");
  std::ostringstream oc;
  render_outbox(oc, std::vector<OutboxRow>{dead}, RenderOptions{Format::csv, false, k_now});
  // The line break stays inside the quoted field.
  CHECK(oc.str() ==
        "id,event_id,event_kind,subject,endpoint,state,attempts,next_attempt_at,created_at,"
        "delivered_at,last_error\r\n"
        "2,2,regression,shop.customer.test,ops,dead,8,2026-05-28T19:26:40Z,2026-05-28T17:26:40Z,,"
        "\"HTTP 500\nfrom hooks\"\r\n");
}
