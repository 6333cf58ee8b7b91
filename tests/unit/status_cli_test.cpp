// Tests for the caad-status binary (daemon/status), end to end: it is run as
// a process on databases written by the daemon's own code
// (tests/unit/status_fixture.h) and judged by its exit status, its stdout
// and its stderr: the summary, --json lines that parse, CSV, list filters,
// show, events, outbox, --check's line and exit status, the database choice
// (--db, --config, the working directory), one-sentence errors for a
// missing, foreign or newer database, colour, and that it never writes.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/status_fixture.h"
#include "tests/unit/status_scenario.h"

using namespace caad;
using namespace caad::status::testing;

namespace {

struct Run {
  int status = -1;
  std::string out, err;
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs caad-status in `cwd` with `args`; `env` is a list of VAR=value set
// on top of an environment without NO_COLOR.
Run run(const TempDir& dir, const std::vector<std::string>& args,
        const std::vector<std::string>& env = {}) {
  std::string command = "cd " + shell_quote(dir.file("")) + " && env -u NO_COLOR";
  for (const auto& e : env) command += " " + shell_quote(e);
  command += " " + shell_quote(CAAD_STATUS_BIN);
  for (const auto& a : args) command += " " + shell_quote(a);
  const std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  command += " >" + shell_quote(out) + " 2>" + shell_quote(err) + " </dev/null";
  int raw = std::system(command.c_str());
  Run r;
  REQUIRE(WIFEXITED(raw));
  r.status = WEXITSTATUS(raw);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (const auto& line : lines(text)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    INFO(line);
    REQUIRE_FALSE(j.is_discarded());
    out.push_back(j);
  }
  return out;
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// The scenario, written as of the real clock (the binary reads it too).
struct Scenario {
  Scenario() : now(unix_now()) { build_scenario(f, now); }
  Fixture f;
  UnixSeconds now;
  std::vector<std::string> db() const { return {"--db", f.path()}; }
  Run operator()(std::vector<std::string> args, const std::vector<std::string>& env = {}) const {
    args.push_back("--db");
    args.push_back(f.path());
    return run(f.dir(), args, env);
  }
};

}  // namespace

TEST_CASE("the summary, for people and as one JSON line") {
  Scenario s;
  Run r = s({});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.err.empty());
  CHECK(r.out.starts_with("Database    " + s.f.path() + " (schema "));
  CHECK(contains(r.out, "Daemon      alive: heartbeat "));
  CHECK(contains(r.out, "Domains     6 watched, 1 disabled"));
  CHECK(contains(r.out, "            permitted 2, denied 2, lookup_failed 1, unchecked 1\n"));
  CHECK(contains(r.out, "Outbox      3 pending, 1 dead\n"));
  CHECK(contains(r.out, "At risk: 3 denied or failing, soonest renewal first\n"));
  CHECK(contains(r.out, "\nshop.customer.test  denied  "));
  CHECK_FALSE(contains(r.out, "\033["));  // not a terminal: no colour

  Run j = s({"--json"});
  CHECK(j.status == 0);
  auto objects = json_lines(j.out);
  REQUIRE(objects.size() == 1);
  const auto& o = objects[0];
  CHECK(o["domains"]["enabled"] == 6);
  CHECK(o["domains"]["denied"] == 2);
  CHECK(o["at_risk"]["soonest"][0]["domain"] == "shop.customer.test");
  CHECK(o["at_risk"]["soonest"][0]["days_left"] == 2);
  CHECK(o["provider_targets"][0]["name"] == "t.provider.test");
  CHECK(o["outbox"]["dead"] == 1);
  CHECK(o["daemon"]["alive"] == true);

  Run c = s({"--csv"});
  CHECK(c.status == 0);
  CHECK(c.out.starts_with("metric,value\r\ndatabase," + s.f.path() + "\r\n"));
  CHECK(contains(c.out, "\r\ndenied,2\r\n"));
}

TEST_CASE("list: filters, sorting, JSON Lines and CSV") {
  Scenario s;
  Run all = s({"list", "--json"});
  CHECK(all.status == 0);
  auto rows = json_lines(all.out);
  CHECK(rows.size() == 7);
  for (const auto& row : rows) {
    CHECK(row.contains("domain"));
    CHECK(row.contains("verdict"));
    CHECK(row.contains("renewal_at"));
  }

  Run failing = s({"list", "--failing", "--sort", "renewal", "--json"});
  std::vector<std::string> names;
  for (const auto& row : json_lines(failing.out)) names.push_back(row["domain"]);
  CHECK(names ==
        std::vector<std::string>{"shop.customer.test", "api.customer.test", "*.customer.test"});

  Run within = s({"list", "--renewing-within", "7d", "--csv"});
  CHECK(within.status == 0);
  auto csv = lines(within.out);
  REQUIRE(csv.size() == 3);
  CHECK(csv[0].starts_with("domain,wildcard,enabled,verdict,"));
  CHECK(csv[1].starts_with("ok.customer.test,false,true,permitted,exposed,"));
  CHECK(csv[2].starts_with("shop.customer.test,false,true,denied,exposed,"));
  CHECK(csv[2].ends_with("\r"));

  Run ca = s({"list", "--ca", "letsencrypt", "--verdict", "denied", "--limit", "1"});
  CHECK(ca.status == 0);
  auto table = lines(ca.out);
  REQUIRE(table.size() == 2);
  CHECK(table[0].starts_with("DOMAIN"));
  CHECK(table[1].starts_with("*.customer.test"));

  Run none = s({"list", "--exposure", "pinned", "--changed-since", "1m"});
  CHECK(none.status == 0);
  CHECK(none.out == "no matching domains\n");
}

TEST_CASE("show: the domain, or one sentence and status 1 when it is unknown") {
  Scenario s;
  Run r = s({"show", "SHOP.customer.test."});  // any spelling of the name
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.starts_with("shop.customer.test\n"));
  CHECK(contains(r.out, "records     at customer.test\n              0 issue \"digicert.com\"\n"));
  CHECK(contains(r.out, "CNAME chain shop.customer.test -> t.provider.test\n"));
  CHECK(contains(r.out, "Verdict per CA\n"));
  CHECK(contains(r.out, "regression"));

  Run j = s({"show", "*.customer.test", "--json"});
  CHECK(j.status == 0);
  auto objects = json_lines(j.out);
  REQUIRE(objects.size() == 1);
  CHECK(objects[0]["subject"] == "*.customer.test");
  CHECK(objects[0]["domain"]["wildcard"] == true);
  CHECK(objects[0]["last_check"]["cas"].size() == 2);

  Run missing = s({"show", "nowhere.test"});
  CHECK(missing.status == 1);
  CHECK(missing.out.empty());
  CHECK(missing.err == "caad-status: nowhere.test is not in " + s.f.path() +
                           " and has no recorded checks or events\n");
}

TEST_CASE("events and outbox") {
  Scenario s;
  Run e = s({"events", "--since", "24h", "--json"});
  CHECK(e.status == 0);
  auto events = json_lines(e.out);
  REQUIRE(events.size() == 4);
  CHECK(events[0]["kind"] == "regression");
  CHECK(events[0]["subject"] == "shop.customer.test");
  CHECK(events[0]["data"]["remedy"].is_string());
  Run k = s({"events", "--since", "7d", "--kind", "regression", "--kind", "recovery"});
  CHECK(k.status == 0);
  CHECK(lines(k.out).size() == 3);  // header and two regressions

  Run o = s({"outbox", "--json"});
  CHECK(o.status == 0);
  auto rows = json_lines(o.out);
  REQUIRE(rows.size() == 4);
  CHECK(rows[0]["state"] == "dead");
  Run d = s({"outbox", "--state", "delivered", "--csv"});
  CHECK(d.status == 0);
  auto csv = lines(d.out);
  REQUIRE(csv.size() == 2);
  CHECK(csv[1].starts_with("1,1,regression,*.customer.test,ops,delivered,3,"));
}

TEST_CASE("--check: the status line, performance data and exit status") {
  Scenario s;
  Run r = s({"--check"});
  INFO(r.out << r.err);
  CHECK(r.status == 2);
  CHECK(r.err.empty());
  REQUIRE(lines(r.out).size() == 1);
  CHECK(r.out ==
        "CAAD CRITICAL - 2 denied, 1 failing; soonest renewal at risk in 2d (shop.customer.test); "
        "1 dead letter in the outbox | domains=6 denied=2 failing=1 at_risk_soonest_days=2;14;3 "
        "outbox_pending=3 outbox_dead=1 targets_broken=0\n");

  Run warn = s({"--check", "--warn", "1d", "--crit", "1d"});
  CHECK(warn.status == 1);
  CHECK(warn.out.starts_with("CAAD WARNING - "));
  CHECK(contains(warn.out, "at_risk_soonest_days=2;1;1 "));

  SUBCASE("UNKNOWN when the database cannot be read") {
    s.f.close();
    RawDb(s.f.path()).exec("PRAGMA user_version = 999");
    Run u = s({"--check"});
    CHECK(u.status == 3);
    CHECK(u.out.starts_with("CAAD UNKNOWN - " + s.f.path() + " was written by a newer caad"));
  }
}

TEST_CASE("a missing, foreign or newer database: one sentence on stderr and a sysexits status") {
  TempDir dir;
  Run missing = run(dir, {"--db", dir.file("none.db")});
  CHECK(missing.status == 66);
  CHECK(missing.out.empty());
  CHECK(missing.err == "caad-status: database " + dir.file("none.db") + " does not exist\n");

  std::ofstream(dir.file("notes.txt"))
      << "this is not a database, only text long enough for a header\n";
  Run foreign = run(dir, {"list", "--db", dir.file("notes.txt")});
  CHECK(foreign.status == 74);
  CHECK(lines(foreign.err).size() == 1);
  CHECK(
      foreign.err.starts_with("caad-status: " + dir.file("notes.txt") + " is not a caad database"));

  Fixture f;
  f.close();
  RawDb(f.path()).exec("PRAGMA user_version = 999");
  Run newer = run(dir, {"--db", f.path()});
  CHECK(newer.status == 74);
  CHECK(newer.err == "caad-status: " + f.path() +
                         " was written by a newer caad (schema 999, this caad knows up to " +
                         std::to_string(store::Store::latest_schema_version()) +
                         "); upgrade caad\n");
}

TEST_CASE("the database comes from --db, else --config, else caad.db in the working directory") {
  Scenario s;
  const std::string config = s.f.dir().file("caad.toml");
  std::ofstream(config) << "database = \"" << s.f.path() << "\"\n";
  Run from_config = run(s.f.dir(), {"--config", config, "--json"});
  CHECK(from_config.status == 0);
  CHECK(json_lines(from_config.out)[0]["database"] == s.f.path());

  // --db wins over the configuration's database.
  Run other = run(s.f.dir(), {"--config", config, "--db", s.f.dir().file("elsewhere.db")});
  CHECK(other.status == 66);

  // The fixture's file is caad.db in the directory the command runs in.
  std::error_code ec;
  if (std::filesystem::exists(config::k_default_path, ec)) {
    MESSAGE("skipped the working-directory default: " << config::k_default_path << " exists");
    return;
  }
  Run local = run(s.f.dir(), {"--json"});
  CHECK(local.status == 0);
  CHECK(json_lines(local.out)[0]["database"] == s.f.path());
}

TEST_CASE("colour: --color always paints, NO_COLOR does not stop an explicit request") {
  Scenario s;
  Run painted = s({"list", "--color", "always"});
  CHECK(contains(painted.out, "\033[31mdenied\033[0m"));
  Run asked = s({"list", "--color", "always"}, {"NO_COLOR=1"});
  CHECK(contains(asked.out, "\033[31mdenied\033[0m"));
  Run automatic = s({"list"}, {"NO_COLOR="});
  CHECK_FALSE(contains(automatic.out, "\033["));
  Run json = s({"list", "--json", "--color", "always"});  // scripts never get colour
  CHECK_FALSE(contains(json.out, "\033["));
}

TEST_CASE("caad-status reads while the daemon writes, and never changes the file") {
  Scenario s;
  // The daemon in the middle of a batch: the write lock is held.
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(s.f.path().c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close_v2)> writer(raw, &sqlite3_close_v2);
  REQUIRE(sqlite3_exec(raw, "BEGIN IMMEDIATE; DELETE FROM outbox;", nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  Run busy = s({"--check"});
  CHECK(busy.status == 2);
  CHECK(contains(busy.out, "outbox_dead=1"));
  REQUIRE(sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  writer.reset();

  // The daemon stopped: its last connection checkpointed the WAL.
  s.f.close();
  const std::string before = slurp(s.f.path());
  for (const auto& args : std::vector<std::vector<std::string>>{
           {}, {"list"}, {"show", "shop.customer.test"}, {"events"}, {"outbox"}, {"--check"}}) {
    Run r = s(args);
    CHECK(r.status == (args.empty() || args[0] != "--check" ? 0 : 2));
  }
  CHECK(slurp(s.f.path()) == before);
}
