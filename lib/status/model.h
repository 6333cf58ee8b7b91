// What caad-status shows, as plain values: a domain with its last check, the
// summary screen, a domain's detail, events and webhook deliveries. The reader
// (lib/status/reader.h) fills them from the database; the renderers
// (lib/status/render.h) and the monitoring check (lib/status/monitor.h) only
// ever see these structs, so that they are tested without SQLite.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/util/time.h"

namespace caad::status {

inline constexpr std::int64_t k_day = 86400;
// The daemon writes its heartbeat every 15 s; two minutes without one (eight
// missed beats) means it is stopped, hung, or cannot write the database.
inline constexpr std::int64_t k_alive_within = 120;

// One customer domain: what was asked (the domains table) and the outcome of
// its last check (domain_state), with the renewal time the daemon assumes.
struct DomainRow {
  std::int64_t id = 0;
  std::string subject;  // canonical "x" or "*.x"
  std::string name;     // without "*."
  bool wildcard = false;
  bool enabled = true;
  std::vector<std::string> cas;  // CA names, primary first; empty: every configured CA
  std::optional<UnixSeconds> not_after;
  std::optional<UnixSeconds> renew_at;
  std::optional<UnixSeconds>
      renewal;          // schedule::renewal_time: renew_at, else derived from not_after
  std::string verdict;  // "permitted" | "denied" | "lookup_failed"; empty: never checked
  std::string exposure = "exposed";  // "pinned" | "exposed"
  std::optional<std::string> relevant_owner;
  std::optional<std::string> failure_kind;
  std::string reason;
  UnixSeconds last_checked_at = 0;  // 0: never
  UnixSeconds changed_at = 0;       // when the verdict last changed; 0: never checked
  UnixSeconds next_check_at = 0;    // 0: at once
  int consecutive_failures = 0;
};

// Domain counts. Verdicts and exposures cover enabled domains only, as the
// daemon's own counts do (disabled domains are not watched).
struct DomainCounts {
  std::size_t total = 0, enabled = 0, due = 0;
  std::size_t permitted = 0, denied = 0, lookup_failed = 0, unchecked = 0;
  std::size_t pinned = 0, exposed = 0;
};

struct OutboxCounts {
  std::size_t pending = 0, dead = 0;
};

// The daemon's row: written every 15 s while `caad run` works.
struct DaemonRow {
  std::optional<std::int64_t> pid;
  UnixSeconds heartbeat_at = 0;  // 0: the daemon never ran on this database
  UnixSeconds last_sweep_at = 0;
  std::string status_line;
};

// A provider target's own state, with how many domains are pinned to it.
struct TargetRow {
  std::string name;
  std::string verdict;  // empty: not checked yet
  std::string exposure = "exposed";
  std::optional<std::string> relevant_owner;
  std::optional<std::string> failure_kind;
  std::string reason;
  UnixSeconds last_checked_at = 0;
  UnixSeconds changed_at = 0;
  int consecutive_failures = 0;
  std::size_t pinned_domains = 0;
};

// The one-screen summary, read in one snapshot.
struct Summary {
  std::string database;  // the file's absolute path
  int schema = 0;
  DomainCounts domains;
  // Enabled domains whose last check was denied or lookup_failed, soonest
  // renewal first (unknown renewals last, then by name); at most the limit
  // the reader was given. at_risk_total counts them all.
  std::vector<DomainRow> at_risk;
  std::size_t at_risk_total = 0;
  std::size_t at_risk_unknown_renewal = 0;  // of at_risk_total
  std::vector<TargetRow> targets;
  OutboxCounts outbox;
  DaemonRow daemon;
};

// One CA's verdict from a stored check result.
struct CaResult {
  std::string ca, issuer, verdict, reason;
  std::optional<std::string> outcome;
  std::optional<std::string> deciding_record;  // presentation text
};

struct FailureInfo {
  std::string kind, name, detail, server;
};

// A stored check result (check::to_json, kept in result_json), parsed.
struct CheckDetail {
  std::string verdict, exposure, reason;
  std::vector<CaResult> cas;
  std::optional<std::string> found_at, relevant_owner, nxdomain_tld;
  std::vector<std::string> records;
  std::vector<std::string> cname_chain;
  std::optional<FailureInfo> failure;
};

// A run of checks that found the same result: the one going on
// (domain_state) or a finished one (check_history).
struct HistoryRow {
  UnixSeconds first_checked_at = 0;
  UnixSeconds checked_at = 0;  // the run's last check
  std::int64_t checks = 1;
  std::string verdict, exposure;
  std::optional<std::string> failure_kind;
  std::string reason;
};

struct EventRow {
  std::int64_t id = 0;
  std::string subject, kind, severity;
  UnixSeconds at = 0;
  nlohmann::json data;  // the stored data_json (an object)
};

struct OutboxRow {
  std::int64_t id = 0, event_id = 0;
  std::string endpoint, state;
  int attempts = 0;
  UnixSeconds next_attempt_at = 0, created_at = 0;
  std::optional<UnixSeconds> delivered_at;
  std::optional<std::string> last_error;
  std::string event_kind, subject, severity;
};

// `caad-status show`: a domain, its last result, its checks and its events.
// A removed domain keeps its history and events (keyed by subject), so
// `domain` may be absent while the rest is there.
struct DomainDetail {
  std::string subject;
  std::optional<DomainRow> domain;
  std::optional<CheckDetail> last_check;  // the stored state's, else the newest history row's
  std::vector<HistoryRow> history;        // newest first
  std::vector<EventRow> events;           // newest first
};

// Whole days until `t`, rounded towards the past (as events' "days_left"):
// 36 hours ahead is 1, 12 hours overdue is -1.
std::int64_t days_until(UnixSeconds now, UnixSeconds t);

// Whether the daemon's heartbeat is recent enough to call it alive.
bool daemon_alive(const DaemonRow& d, UnixSeconds now);

// "unchecked" for the empty verdict, else the verdict itself.
std::string_view verdict_name(std::string_view verdict);

// Worst first: denied, lookup_failed, unchecked, permitted (for sorting).
int verdict_rank(std::string_view verdict);

// Parses a stored result_json; nullopt when it is empty or not an object.
// Missing or mistyped fields are left empty rather than failing: the reader
// must show what it can of a row written by another caad version.
std::optional<CheckDetail> parse_check_detail(std::string_view json);

}  // namespace caad::status
