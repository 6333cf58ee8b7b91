// The values the store reads and writes: customer domains, their current CAA
// state, and events. Plain structs, so that the scheduler, the event rules and
// the importer can be tested without a database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/dns/name.h"
#include "lib/util/time.h"

namespace caad::store {

// A customer domain as an import or `caad domain add` gives it.
struct DomainSpec {
  dns::DomainRequest request;
  std::vector<std::string> cas;  // CA names, primary first; empty: every configured CA
  std::optional<UnixSeconds> not_after;
  std::optional<UnixSeconds> renew_at;
  bool enabled = true;
};

// A stored customer domain.
struct Domain {
  std::int64_t id = 0;
  DomainSpec spec;
  UnixSeconds added_at = 0;
  UnixSeconds updated_at = 0;
};

// The last known CAA state of a domain (or of a provider target).
struct DomainState {
  std::string verdict;  // "permitted" | "denied" | "lookup_failed"; empty: never checked
  std::string exposure = "exposed";
  std::optional<std::string> relevant_owner;
  std::optional<std::string> failure_kind;
  std::string reason;
  std::string result_json;          // check::to_json of the last check
  std::uint64_t result_digest = 0;  // check::result_digest of it; 0: not known
  UnixSeconds last_checked_at = 0;
  UnixSeconds changed_at = 0;       // when verdict last changed
  UnixSeconds next_check_at = 0;    // 0: at once
  int consecutive_failures = 0;
  bool at_risk_reported = false;    // a renewal_at_risk event was raised for this episode
  // The run of checks that found this result (schema/0005_history_runs.sql):
  // its first check and how many checks it holds; 0 checks: none recorded
  // here yet. Kept for customer domains only, not for provider targets.
  UnixSeconds run_started_at = 0;
  std::int64_t run_checks = 0;
};

enum class Severity { info, warning, critical };
const char* to_string(Severity s);
std::optional<Severity> parse_severity(std::string_view text);

// Something worth telling people about. Kinds: "regression" (permitted →
// denied), "lookup_failure" (permitted or new → lookup_failed, the first
// one), "recovery" (→ permitted), "renewal_at_risk", "provider_target_broken",
// "provider_target_recovered".
struct Event {
  std::string kind;
  Severity severity = Severity::info;
  std::string subject;  // the domain ("*.x" form) or the provider target
  UnixSeconds at = 0;
  nlohmann::json data;  // verdicts per CA, records, chain, failure, renewal, counts...
};

// A delivery the webhook sender may attempt: one outbox row and its event.
struct OutboxRow {
  std::int64_t id = 0;
  std::int64_t event_id = 0;
  std::string endpoint;
  int attempts = 0;  // made so far
  UnixSeconds next_attempt_at = 0;
  UnixSeconds created_at = 0;
  std::optional<std::string> last_error;
  Event event;
};

enum class OutboxState { pending, delivered, dead };
const char* to_string(OutboxState s);

// What one delivery attempt (or a decision not to make one) does to one
// outbox row. Only a pending row changes: delivered and dead are final.
struct OutboxUpdate {
  std::int64_t id = 0;
  OutboxState state = OutboxState::pending;
  bool attempted = true;            // counts as an attempt: attempts + 1
  UnixSeconds at = 0;               // delivered_at, for a delivered row
  UnixSeconds next_attempt_at = 0;  // for a row that stays pending
  std::optional<std::string> last_error;  // nullopt: left as it was
};

// A webhook endpoint its receiver declared gone (HTTP 410). Its rows wait
// until the endpoint is configured with another URL.
struct DisabledEndpoint {
  std::string name;
  std::string url_sha256;  // fingerprint of the URL that is gone (the URL itself is a secret)
  UnixSeconds disabled_at = 0;
  std::string reason;
};

// Where the outbox sends events: one row per event and matching endpoint.
struct OutboxRoute {
  std::string endpoint;             // webhook name
  std::vector<std::string> kinds;   // empty: every kind
  Severity min_severity = Severity::info;
  bool wants(const Event& e) const;
};

}  // namespace caad::store
