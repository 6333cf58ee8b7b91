// Tests for lib/status/monitor: the --check decision table, one row per
// exit status and cause, and the status line with its performance data.
#include <doctest/doctest.h>

#include <string>

#include "lib/status/monitor.h"

using namespace caad;
using namespace caad::status;

namespace {

constexpr UnixSeconds k_now = 1'780'000'000;
const Thresholds k_default;  // warn 14d, crit 3d

// A healthy database: 1000 domains, all permitted, the daemon alive.
Summary healthy() {
  Summary s;
  s.database = "/var/lib/caad/caad.db";
  s.schema = 1;
  s.domains.total = s.domains.enabled = s.domains.permitted = 1000;
  s.daemon.heartbeat_at = k_now - 15;
  s.daemon.last_sweep_at = k_now - 15;
  s.targets.push_back(TargetRow{"domains.provider.example", "permitted", "exposed", std::nullopt,
                                std::nullopt, "ok", k_now - 60, k_now - 86400, 0, 900});
  return s;
}

DomainRow at_risk(std::string subject, std::string verdict, std::optional<UnixSeconds> renewal) {
  DomainRow d;
  d.subject = d.name = std::move(subject);
  d.verdict = std::move(verdict);
  d.renewal = renewal;
  return d;
}

// Two denied and one failing; the soonest renews in `days` days.
Summary with_risk(std::int64_t seconds_left) {
  Summary s = healthy();
  s.domains.permitted = 997;
  s.domains.denied = 2;
  s.domains.lookup_failed = 1;
  s.at_risk = {at_risk("shop.example", "denied", k_now + seconds_left)};
  s.at_risk_total = 3;
  return s;
}

constexpr std::int64_t k_day_s = 86400;

}  // namespace

TEST_CASE("OK: nothing at risk") {
  CheckOutcome c = evaluate(healthy(), k_default, k_now);
  CHECK(c.state == CheckState::ok);
  CHECK(static_cast<int>(c.state) == 0);
  CHECK(c.line ==
        "CAAD OK - 0 denied, 0 failing | domains=1000 denied=0 failing=0 "
        "at_risk_soonest_days=U;14;3 outbox_pending=0 outbox_dead=0 targets_broken=0");
}

TEST_CASE("OK: denied domains whose renewal is far away") {
  CheckOutcome c = evaluate(with_risk(40 * k_day_s), k_default, k_now);
  CHECK(c.state == CheckState::ok);
  CHECK(c.line.starts_with(
      "CAAD OK - 2 denied, 1 failing; soonest renewal at risk in 40d (shop.example) |"));
  CHECK(c.line.find("at_risk_soonest_days=40;14;3") != std::string::npos);
}

TEST_CASE("WARNING: a renewal at risk within --warn") {
  CheckOutcome c = evaluate(with_risk(10 * k_day_s), k_default, k_now);
  CHECK(c.state == CheckState::warning);
  CHECK(static_cast<int>(c.state) == 1);
  CHECK(c.line.starts_with("CAAD WARNING - 2 denied, 1 failing; soonest renewal at risk in 10d"));
  // Exactly on the threshold counts as within.
  CHECK(evaluate(with_risk(14 * k_day_s), k_default, k_now).state == CheckState::warning);
  CHECK(evaluate(with_risk(14 * k_day_s + 1), k_default, k_now).state == CheckState::ok);
}

TEST_CASE("WARNING: a domain at risk with no renewal date") {
  Summary s = healthy();
  s.domains.denied = 1;
  s.at_risk = {at_risk("norenewal.example", "denied", std::nullopt)};
  s.at_risk_total = s.at_risk_unknown_renewal = 1;
  CheckOutcome c = evaluate(s, k_default, k_now);
  CHECK(c.state == CheckState::warning);
  CHECK(c.line.starts_with("CAAD WARNING - 1 denied, 0 failing; 1 at risk with no renewal date |"));
  CHECK(c.line.find("at_risk_soonest_days=U;") != std::string::npos);
}

TEST_CASE("WARNING: the daemon looks dead, or never ran") {
  Summary s = healthy();
  s.daemon.heartbeat_at = k_now - 121;
  CheckOutcome c = evaluate(s, k_default, k_now);
  CHECK(c.state == CheckState::warning);
  CHECK(c.line.starts_with("CAAD WARNING - 0 denied, 0 failing; no daemon heartbeat for 2m |"));
  s.daemon.heartbeat_at = k_now - 120;  // two minutes exactly is still alive
  CHECK(evaluate(s, k_default, k_now).state == CheckState::ok);
  s.daemon.heartbeat_at = 0;
  c = evaluate(s, k_default, k_now);
  CHECK(c.state == CheckState::warning);
  CHECK(c.line.find("the daemon has never run on this database") != std::string::npos);
}

TEST_CASE("WARNING: dead letters in the outbox") {
  Summary s = healthy();
  s.outbox.pending = 4;
  s.outbox.dead = 1;
  CheckOutcome c = evaluate(s, k_default, k_now);
  CHECK(c.state == CheckState::warning);
  CHECK(c.line.starts_with("CAAD WARNING - 0 denied, 0 failing; 1 dead letter in the outbox |"));
  CHECK(c.line.find("outbox_pending=4 outbox_dead=1") != std::string::npos);
  s.outbox.pending = 0;
  CHECK(evaluate(s, k_default, k_now).state == CheckState::warning);
  s.outbox.dead = 0;
  s.outbox.pending = 50;  // a backlog alone is the sender's business, not an alert
  CHECK(evaluate(s, k_default, k_now).state == CheckState::ok);
}

TEST_CASE("CRITICAL: a renewal at risk within --crit: the line of the issue") {
  CheckOutcome c = evaluate(with_risk(2 * k_day_s + 3600), k_default, k_now);
  CHECK(c.state == CheckState::critical);
  CHECK(static_cast<int>(c.state) == 2);
  CHECK(c.line ==
        "CAAD CRITICAL - 2 denied, 1 failing; soonest renewal at risk in 2d (shop.example) | "
        "domains=1000 denied=2 failing=1 at_risk_soonest_days=2;14;3 outbox_pending=0 "
        "outbox_dead=0 targets_broken=0");
  CHECK(evaluate(with_risk(3 * k_day_s), k_default, k_now).state == CheckState::critical);
  CHECK(evaluate(with_risk(3 * k_day_s + 1), k_default, k_now).state == CheckState::warning);
}

TEST_CASE("CRITICAL: a renewal at risk already past") {
  CheckOutcome c = evaluate(with_risk(-36 * 3600), k_default, k_now);
  CHECK(c.state == CheckState::critical);
  CHECK(c.line.find("soonest renewal at risk overdue by 36h (shop.example)") != std::string::npos);
  CHECK(c.line.find("at_risk_soonest_days=-2;14;3") != std::string::npos);
}

TEST_CASE("CRITICAL: a provider target that is not permitted, whatever else") {
  Summary s = healthy();
  s.targets[0].verdict = "denied";
  CheckOutcome c = evaluate(s, k_default, k_now);
  CHECK(c.state == CheckState::critical);
  CHECK(c.line.starts_with(
      "CAAD CRITICAL - 0 denied, 0 failing; provider target domains.provider.example denied "
      "(900 pinned domains) |"));
  CHECK(c.line.ends_with("targets_broken=1"));
  s.targets[0].verdict = "";  // not checked yet: no opinion
  CHECK(evaluate(s, k_default, k_now).state == CheckState::ok);
}

TEST_CASE("the worst state wins and every cause is named") {
  Summary s = with_risk(10 * k_day_s);     // WARNING
  s.daemon.heartbeat_at = k_now - 3600;    // WARNING
  s.targets[0].verdict = "lookup_failed";  // CRITICAL
  s.outbox.dead = 2;
  CheckOutcome c = evaluate(s, k_default, k_now);
  CHECK(c.state == CheckState::critical);
  CHECK(c.line.starts_with(
      "CAAD CRITICAL - 2 denied, 1 failing; soonest renewal at risk in 10d (shop.example); "
      "provider target domains.provider.example lookup_failed (900 pinned domains); no daemon "
      "heartbeat for 1h; 2 dead letters in the outbox |"));
}

TEST_CASE("thresholds are honoured and printed in days") {
  Thresholds t{36 * 3600, 12 * 3600};
  CheckOutcome c = evaluate(with_risk(30 * 3600), t, k_now);
  CHECK(c.state == CheckState::warning);
  CHECK(c.line.find("at_risk_soonest_days=1;1.5;0.5") != std::string::npos);
  CHECK(evaluate(with_risk(11 * 3600), t, k_now).state == CheckState::critical);
  CHECK(evaluate(with_risk(37 * 3600), t, k_now).state == CheckState::ok);
}

TEST_CASE("UNKNOWN: one line, exit status 3, control characters made printable") {
  CheckOutcome c = unknown("database /x/caad.db does not exist");
  CHECK(c.state == CheckState::unknown);
  CHECK(static_cast<int>(c.state) == 3);
  CHECK(c.line == "CAAD UNKNOWN - database /x/caad.db does not exist");
  CHECK(unknown("two\nlines").line == "CAAD UNKNOWN - two\\x0Alines");
  CHECK(std::string(to_string(CheckState::critical)) == "CRITICAL");
}
