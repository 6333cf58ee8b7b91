// The monitoring-plugin decision (see the header for the table).
//
// The output follows the Monitoring Plugins Development Guidelines: one
// line, "SERVICE STATE - text | perfdata", exit status 0..3. The text names
// the worst things first so that a pager shows what to fix; the performance
// data has the same figures every time, so graphs do not break when a
// problem appears or goes away.
#include "lib/status/monitor.h"

#include <cstdio>
#include <string>
#include <vector>

#include "lib/status/render.h"

namespace caad::status {
namespace {

void worsen(CheckState& state, CheckState to) {
  // UNKNOWN is not part of this ordering: evaluate() never produces it.
  if (static_cast<int>(to) > static_cast<int>(state)) state = to;
}

// A threshold in days for the performance data: "14", or "1.5" for 36h.
std::string days_text(std::int64_t seconds) {
  if (seconds % k_day == 0) return std::to_string(seconds / k_day);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", static_cast<double>(seconds) / k_day);
  std::string text = buffer;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

// "1 dead letter", "3 dead letters".
std::string count_of(std::size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace

const char* to_string(CheckState s) {
  switch (s) {
    case CheckState::ok:
      return "OK";
    case CheckState::warning:
      return "WARNING";
    case CheckState::critical:
      return "CRITICAL";
    case CheckState::unknown:
      break;
  }
  return "UNKNOWN";
}

CheckOutcome evaluate(const Summary& s, const Thresholds& t, UnixSeconds now) {
  CheckState state = CheckState::ok;
  std::vector<std::string> clauses;
  clauses.push_back(std::to_string(s.domains.denied) + " denied, " +
                    std::to_string(s.domains.lookup_failed) + " failing");

  std::string soonest_days = "U";  // "undetermined", in the guidelines' words
  if (!s.at_risk.empty() && s.at_risk.front().renewal) {
    const DomainRow& d = s.at_risk.front();
    const std::int64_t left = *d.renewal - now;
    if (left <= t.crit) {
      worsen(state, CheckState::critical);
    } else if (left <= t.warn) {
      worsen(state, CheckState::warning);
    }
    soonest_days = std::to_string(days_until(now, *d.renewal));
    clauses.push_back("soonest renewal at risk " +
                      (left >= 0 ? "in " + format_age(left) : "overdue by " + format_age(-left)) +
                      " (" + printable(d.subject) + ")");
  }
  if (s.at_risk_unknown_renewal > 0) {
    // Like the events' severity: caad cannot tell how urgent these are, and
    // neither paging nor silence would be right.
    worsen(state, CheckState::warning);
    clauses.push_back(std::to_string(s.at_risk_unknown_renewal) + " at risk with no renewal date");
  }
  std::size_t targets_broken = 0;
  for (const TargetRow& target : s.targets) {
    if (target.verdict.empty() || target.verdict == "permitted") continue;
    ++targets_broken;
    worsen(state, CheckState::critical);
    clauses.push_back("provider target " + printable(target.name) + " " + target.verdict + " (" +
                      count_of(target.pinned_domains, "pinned domain") + ")");
  }
  if (!daemon_alive(s.daemon, now)) {
    worsen(state, CheckState::warning);
    clauses.push_back(s.daemon.heartbeat_at == 0
                          ? std::string("the daemon has never run on this database")
                          : "no daemon heartbeat for " + format_age(now - s.daemon.heartbeat_at));
  }
  if (s.outbox.dead > 0) {
    worsen(state, CheckState::warning);
    clauses.push_back(count_of(s.outbox.dead, "dead letter") + " in the outbox");
  }

  std::string line = std::string("CAAD ") + to_string(state) + " - ";
  for (std::size_t i = 0; i < clauses.size(); ++i) line += (i == 0 ? "" : "; ") + clauses[i];
  line += " | domains=" + std::to_string(s.domains.enabled) +
          " denied=" + std::to_string(s.domains.denied) +
          " failing=" + std::to_string(s.domains.lookup_failed) +
          " at_risk_soonest_days=" + soonest_days + ";" + days_text(t.warn) + ";" +
          days_text(t.crit) + " outbox_pending=" + std::to_string(s.outbox.pending) +
          " outbox_dead=" + std::to_string(s.outbox.dead) +
          " targets_broken=" + std::to_string(targets_broken);
  return CheckOutcome{state, line};
}

CheckOutcome unknown(std::string_view why) {
  return CheckOutcome{CheckState::unknown, "CAAD UNKNOWN - " + printable(why)};
}

}  // namespace caad::status
