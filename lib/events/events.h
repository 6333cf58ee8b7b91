// The event rules: from a domain's previous state and a new check, which
// events to raise and the new state. Pure, so that every transition is tested
// without a database or a network.
#pragma once

#include <optional>
#include <vector>

#include "lib/check/check.h"
#include "lib/config/config.h"
#include "lib/store/types.h"

namespace caad::events {

// The severity of a problem (regression, lookup failure) from the time to
// renewal: critical within window_week or past it, warning within
// window_near, info otherwise. Renewal unknown: warning, since caad cannot
// tell how urgent it is and neither paging nor ignoring would be right.
// Recoveries are always info; renewal_at_risk is always critical.
store::Severity severity(UnixSeconds now, std::optional<UnixSeconds> renewal, const config::ScheduleConfig& s);

struct Transition {
  store::DomainState state;           // the new state to store (next_check_at left 0)
  std::vector<store::Event> events;   // in order
  // False when the check found what the previous one did (same_result):
  // then state.result_json is left empty (apply; apply_target always fills
  // it) and the stored result stands.
  bool result_changed = true;
};

// Rules (previous → new; "never" is an empty previous.verdict):
//   never/permitted → permitted       none
//   never/permitted → denied          "regression"
//   never/permitted → lookup_failed   "lookup_failure" (once per episode:
//                                     lookup_failed → lookup_failed is none)
//   lookup_failed → denied            "regression": the failure episode was
//                                     never a confirmed denial, now it is
//   denied → lookup_failed            none: the domain is already alerted as
//                                     denied; the state records the failure
//   denied/lookup_failed → permitted  "recovery" (info)
// Then, when the new verdict is not permitted and the renewal is within
// at_risk_window (or past) and !previous.at_risk_reported:
// "renewal_at_risk" (critical), and state.at_risk_reported = true. The flag
// is cleared by a permitted check, and also when the renewal is no longer
// within the window (a new renewal date), so that the next approach to a
// renewal is announced again.
// consecutive_failures counts lookup_failed checks in a row (0 otherwise);
// changed_at moves only when the verdict changes. run_started_at and
// run_checks describe the run of checks with this same result: a result
// that differs from the previous one starts a run of one check at `now`.
// Event data carries what an alert needs: "domain", "wildcard", "verdict",
// "previous_verdict" (null: never checked), "exposure", "cas" ([{"ca",
// "issuer", "verdict", "reason", "deciding_record" (presentation text or
// null)}]), "found_at", "relevant_owner", "records", "cname_chain",
// "failure" ({"kind", "name", "detail", "server" or null} or null),
// "reason", "renewal_at" (RFC 3339 or null), "days_left" (whole days,
// rounded down, negative once past; or null), "remedy" (one line).
// Whether two checks found the same: their stored results (verdicts per CA,
// records, where they live, the CNAME chain, the failure, the reason) are
// equal, which their result_digest tells without building the JSON. Times do
// not count, nor how many queries a check sent (which depends on what other
// checks had already asked; result_json leaves it out). A previous state
// without a digest (never checked, or stored by an older caad) is never the
// same. When this holds, the daemon writes neither the result again nor a
// full history row.
bool same_result(const store::DomainState& previous, const store::DomainState& next);

Transition apply(const store::DomainState& previous, const check::CheckResult& result,
                 std::optional<UnixSeconds> renewal, UnixSeconds now, const config::ScheduleConfig& s);

// The same for a provider target: "provider_target_broken" (critical) when it
// goes from permitted (or never checked) to denied or lookup_failed, naming
// how many pinned domains it affects, and "provider_target_recovered" (info)
// when it permits again; no event between denied and lookup_failed. Data:
// "target", "pinned_domains", "verdict", "previous_verdict", "cas",
// "relevant_owner", "records", "reason", "failure", "remedy".
Transition apply_target(const store::DomainState& previous, const check::CheckResult& result,
                        std::size_t pinned_domains, UnixSeconds now);

}  // namespace caad::events
