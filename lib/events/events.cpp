// The event rules (see the header for the transition table).
//
// Events are what people get woken up for, so the rules aim for one event per
// change that someone must act on: a lookup that keeps failing is announced
// once, not on every retry; a domain already announced as denied is not
// announced again when its lookups start failing too. Every event carries the
// whole picture (verdict per CA, the record that decides and where it lives,
// the alias chain, the failure, the renewal) and a one-line remedy, so that
// the alert renderers never need to go back to the database.
#include "lib/events/events.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "lib/check/check_json.h"
#include "lib/util/time.h"

namespace caad::events {
namespace {

constexpr std::int64_t k_day = 86400;
constexpr std::string_view k_permitted = "permitted";
constexpr std::string_view k_denied = "denied";
constexpr std::string_view k_lookup_failed = "lookup_failed";

bool is_problem(std::string_view verdict) {
  return verdict == k_denied || verdict == k_lookup_failed;
}

// Whole days, rounded towards the past: 36 hours left is 1 day, 12 hours
// overdue is -1.
std::int64_t days_until(UnixSeconds now, UnixSeconds t) {
  const std::int64_t d = t - now;
  return d >= 0 ? d / k_day : -((-d + k_day - 1) / k_day);
}

std::string owner_of(const lookup::LookupResult& l) {
  if (l.relevant_owner) return l.relevant_owner->text();
  if (l.found_at) return l.found_at->text();
  return l.request.name.text();
}

// The CA whose denial the remedy is about: the first (primary first) denied.
const check::CaVerdict* first_denied(const check::CheckResult& r) {
  for (const check::CaVerdict& v : r.cas) {
    if (v.verdict == check::Verdict::denied) return &v;
  }
  return nullptr;
}

std::string failure_remedy(const lookup::Failure& f) {
  const std::string server = f.server.empty() ? "The resolver" : f.server;
  const std::string kind = lookup::to_string(f.kind);
  // "answered timeout" would say something that did not happen.
  const bool silent =
      f.kind == lookup::FailureKind::timeout || f.kind == lookup::FailureKind::network;
  return server + (silent ? " gave no answer (" + kind + ")" : " answered " + kind) + " for " +
         f.name.text() + ": " + f.detail;
}

// One line saying what to do about the result's problem.
std::string problem_remedy(const check::CheckResult& r) {
  const lookup::LookupResult& l = r.lookup;
  if (l.failure) return failure_remedy(*l.failure);
  const check::CaVerdict* denied = first_denied(r);
  if (!denied) return "No action needed";
  const std::string owner = owner_of(l);
  if (r.exposure == check::Exposure::pinned) {
    return "Fix the CAA record at the provider target " + owner + " so that it allows " +
           denied->issuer;
  }
  if (denied->decision && denied->decision->outcome == caa::Outcome::critical_unknown_tag) {
    // Adding an issue record would not help: the critical record forbids
    // issuance whatever else the set says.
    return "Ask the customer to remove the critical CAA record they added at " + owner +
           ", or publish a CAA record allowing " + denied->issuer + " at your provider target";
  }
  // For a wildcard, an issuewild record in the set overrides issue records,
  // so the customer's fix must be issuewild too.
  bool has_issuewild = false;
  for (const caa::Record& rec : l.records) has_issuewild = has_issuewild || rec.tag_is("issuewild");
  const std::string tag = l.request.wildcard && has_issuewild ? "issuewild" : "issue";
  const std::string customer_fix = "`0 " + tag + " \"" + denied->issuer + "\"` at " + owner;
  if (l.cname_chain.empty()) {
    // No alias: a record at the provider target would never be consulted.
    return "Ask the customer to add " + customer_fix +
           " (the name does not alias to a provider target, so a record there would not apply)";
  }
  return "Publish a CAA record allowing " + denied->issuer +
         " at your provider target, or ask the customer to add " + customer_fix;
}

nlohmann::json null_if_empty(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

// The per-CA verdicts for alerts: the stored JSON without the policy detail.
nlohmann::json ca_summaries(const nlohmann::json& full) {
  nlohmann::json cas = nlohmann::json::array();
  for (const auto& ca : full["cas"]) {
    const nlohmann::json& deciding = ca["deciding_record"];
    cas.push_back(
        {{"ca", ca["ca"]},
         {"issuer", ca["issuer"]},
         {"verdict", ca["verdict"]},
         {"reason", ca["reason"]},
         {"deciding_record", deciding.is_object() ? deciding["record"] : nlohmann::json(nullptr)}});
  }
  return cas;
}

nlohmann::json failure_json(const lookup::LookupResult& l) {
  if (!l.failure) return nullptr;
  return {{"kind", lookup::to_string(l.failure->kind)},
          {"name", l.failure->name.text()},
          {"detail", l.failure->detail},
          {"server", null_if_empty(l.failure->server)}};
}

nlohmann::json domain_data(const check::CheckResult& r, const nlohmann::json& full,
                           const std::string& previous, std::optional<UnixSeconds> renewal,
                           UnixSeconds now) {
  const lookup::LookupResult& l = r.lookup;
  return {
      {"domain", l.request.text()},
      {"wildcard", l.request.wildcard},
      {"verdict", std::string(check::to_string(r.verdict))},
      {"previous_verdict", null_if_empty(previous)},
      {"exposure", std::string(check::to_string(r.exposure))},
      {"cas", ca_summaries(full)},
      {"found_at", full["found_at"]},
      {"relevant_owner", full["relevant_owner"]},
      {"records", full["records"]},
      {"cname_chain", full["cname_chain"]},
      {"failure", failure_json(l)},
      {"reason", r.reason},
      {"renewal_at",
       renewal ? nlohmann::json(format_timestamp(*renewal)) : nlohmann::json(nullptr)},
      {"days_left", renewal ? nlohmann::json(days_until(now, *renewal)) : nlohmann::json(nullptr)},
      {"remedy", r.verdict == check::Verdict::permitted ? "No action needed" : problem_remedy(r)}};
}

// The result as stored: check::to_json without "queries", which says how
// many questions this check happened to send, not something about the
// domain, and would make every result differ from the previous one.
nlohmann::json stored_json(const check::CheckResult& r) {
  nlohmann::json j = check::to_json(r);
  j.erase("queries");
  return j;
}

// The new state: every field from the check, plus the counters that depend
// on the previous state. at_risk_reported is left to the caller, and so is
// result_json, which only a changed result needs.
store::DomainState next_state(const store::DomainState& previous, const check::CheckResult& r,
                              UnixSeconds now) {
  store::DomainState s;
  s.verdict = std::string(check::to_string(r.verdict));
  s.exposure = std::string(check::to_string(r.exposure));
  if (r.lookup.relevant_owner) s.relevant_owner = r.lookup.relevant_owner->text();
  if (r.lookup.failure) s.failure_kind = lookup::to_string(r.lookup.failure->kind);
  s.reason = r.reason;
  s.result_digest = check::result_digest(r);
  s.last_checked_at = now;
  s.changed_at = s.verdict == previous.verdict ? previous.changed_at : now;
  s.next_check_at = 0;
  if (r.verdict == check::Verdict::lookup_failed) {
    s.consecutive_failures =
        previous.verdict == k_lookup_failed ? previous.consecutive_failures + 1 : 1;
  }
  s.at_risk_reported = previous.at_risk_reported;
  return s;
}

store::Event make_event(std::string kind, store::Severity severity, const check::CheckResult& r,
                        UnixSeconds now, nlohmann::json data) {
  return store::Event{std::move(kind), severity, r.lookup.request.text(), now, std::move(data)};
}

}  // namespace

store::Severity severity(UnixSeconds now, std::optional<UnixSeconds> renewal,
                         const config::ScheduleConfig& s) {
  if (!renewal) return store::Severity::warning;
  const std::int64_t left = *renewal - now;
  if (left <= s.window_week) return store::Severity::critical;
  if (left <= s.window_near) return store::Severity::warning;
  return store::Severity::info;
}

bool same_result(const store::DomainState& previous, const store::DomainState& next) {
  return !previous.verdict.empty() && previous.result_digest != 0 &&
         previous.result_digest == next.result_digest;
}

Transition apply(const store::DomainState& previous, const check::CheckResult& result,
                 std::optional<UnixSeconds> renewal, UnixSeconds now,
                 const config::ScheduleConfig& s) {
  // Both built lazily, at most once: most checks find what the last one
  // did, store nothing new and raise no event, and building the JSON is
  // most of what they would otherwise cost.
  std::optional<nlohmann::json> full;
  auto stored = [&]() -> const nlohmann::json& {
    if (!full) full = stored_json(result);
    return *full;
  };
  std::optional<nlohmann::json> data;
  auto event_data = [&]() -> const nlohmann::json& {
    if (!data) data = domain_data(result, stored(), previous.verdict, renewal, now);
    return *data;
  };

  Transition t{next_state(previous, result, now), {}};
  t.result_changed = !same_result(previous, t.state);
  if (t.result_changed) t.state.result_json = stored().dump();
  // The run of equal results (schema/0005_history_runs.sql): a changed
  // result starts one, an equal one joins the stored run, or starts one when
  // none is recorded yet.
  if (!t.result_changed && previous.run_checks > 0) {
    t.state.run_started_at = previous.run_started_at;
    t.state.run_checks = previous.run_checks + 1;
  } else {
    t.state.run_started_at = now;
    t.state.run_checks = 1;
  }
  const std::string& before = previous.verdict;
  const std::string& after = t.state.verdict;

  if (after == k_permitted) {
    if (is_problem(before)) {
      t.events.push_back(make_event("recovery", store::Severity::info, result, now, event_data()));
    }
    t.state.at_risk_reported = false;
    return t;
  }

  if (after == k_denied && before != k_denied) {
    t.events.push_back(
        make_event("regression", severity(now, renewal, s), result, now, event_data()));
  } else if (after == k_lookup_failed && !is_problem(before)) {
    t.events.push_back(
        make_event("lookup_failure", severity(now, renewal, s), result, now, event_data()));
  }

  const bool within_risk = renewal && *renewal - now <= s.at_risk_window;
  if (!within_risk) {
    // A new renewal date moved the risk away; the next approach is a new episode.
    t.state.at_risk_reported = false;
  } else if (!previous.at_risk_reported) {
    t.events.push_back(
        make_event("renewal_at_risk", store::Severity::critical, result, now, event_data()));
    t.state.at_risk_reported = true;
  }
  return t;
}

Transition apply_target(const store::DomainState& previous, const check::CheckResult& result,
                        std::size_t pinned_domains, UnixSeconds now) {
  const nlohmann::json full = stored_json(result);
  Transition t{next_state(previous, result, now), {}};
  // A target's row is always written whole: there are a handful of them.
  t.result_changed = !same_result(previous, t.state);
  t.state.result_json = full.dump();
  // Targets have no renewal of their own; the flag means nothing for them.
  t.state.at_risk_reported = false;
  const std::string& before = previous.verdict;
  const std::string& after = t.state.verdict;

  const bool broke = is_problem(after) && !is_problem(before);
  const bool recovered = after == k_permitted && is_problem(before);
  if (!broke && !recovered) return t;

  const lookup::LookupResult& l = result.lookup;
  std::string remedy = "No action needed";
  if (broke) {
    if (l.failure) {
      remedy = failure_remedy(*l.failure);
    } else {
      const check::CaVerdict* denied = first_denied(result);
      remedy = "Fix the CAA record at the provider target " + owner_of(l) + " so that it allows " +
               (denied ? denied->issuer : std::string("every configured CA")) + "; " +
               std::to_string(pinned_domains) + " pinned domains depend on it";
    }
  }
  nlohmann::json data = {{"target", l.request.text()}, {"pinned_domains", pinned_domains},
                         {"verdict", after},           {"previous_verdict", null_if_empty(before)},
                         {"cas", ca_summaries(full)},  {"relevant_owner", full["relevant_owner"]},
                         {"records", full["records"]}, {"reason", result.reason},
                         {"failure", failure_json(l)}, {"remedy", remedy}};
  if (broke) {
    t.events.push_back(make_event("provider_target_broken", store::Severity::critical, result, now,
                                  std::move(data)));
  } else {
    t.events.push_back(make_event("provider_target_recovered", store::Severity::info, result, now,
                                  std::move(data)));
  }
  return t;
}

}  // namespace caad::events
