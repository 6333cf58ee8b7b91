// The delivery policy (see the header for the rules and why).
#include "lib/alerts/delivery.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "lib/alerts/signature.h"
#include "lib/util/time.h"

namespace caad::alerts {
namespace {

constexpr std::int64_t k_ms = 1000;
constexpr std::size_t k_body_excerpt = 200;

UnixSeconds to_seconds_floor(UnixMillis ms) {
  return ms >= 0 ? ms / k_ms : -((-ms + k_ms - 1) / k_ms);
}

// Seconds rounded up: a row must not be fetched before its time.
UnixSeconds to_seconds_ceil(UnixMillis ms) {
  return -to_seconds_floor(-ms);
}

std::string one_line(std::string_view s, std::size_t max_units) {
  std::string out;
  for (char c : s) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return truncate_text(out, max_units);
}

std::string describe_send(const Send& s) {
  if (s.digest) return "a digest of " + std::to_string(s.rows.size()) + " events [" + s.webhook_id + "]";
  const store::Event& e = s.rows.front().event;
  return e.kind + " " + e.subject + " [" + s.webhook_id + "]";
}

std::string ids_text(const Send& s) {
  return s.digest ? "its " + std::to_string(s.rows.size()) + " rows" : s.webhook_id;
}

std::string seconds_text(std::int64_t ms) {
  return format_duration(std::max<std::int64_t>(1, (ms + k_ms - 1) / k_ms));
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

int month_number(std::string_view m) {
  static constexpr std::string_view k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    if (m == k_months[i]) return i + 1;
  }
  return 0;
}

std::string two(long v) {
  return (v < 10 ? "0" : "") + std::to_string(v);
}

// An HTTP-date as Unix seconds. The three forms differ in separators and
// field order; splitting on spaces, commas and dashes leaves 6 tokens for
// IMF-fixdate and RFC 850 (day-name, day, month, year, time, GMT) and 5 for
// asctime (day-name, month, day, time, year).
std::optional<UnixSeconds> parse_http_date(std::string_view text, UnixSeconds now) {
  std::vector<std::string_view> tokens;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find_first_of(" ,-", pos);
    const std::size_t stop = end == std::string_view::npos ? text.size() : end;
    if (stop > pos) tokens.push_back(text.substr(pos, stop - pos));
    pos = stop + 1;
  }
  std::string_view day, month, year, time;
  if (tokens.size() == 6 && tokens[5] == "GMT") {
    day = tokens[1];
    month = tokens[2];
    year = tokens[3];
    time = tokens[4];
  } else if (tokens.size() == 5) {
    month = tokens[1];
    day = tokens[2];
    time = tokens[3];
    year = tokens[4];
  } else {
    return std::nullopt;
  }
  const int m = month_number(month);
  if (m == 0 || !all_digits(day) || day.size() > 2 || !all_digits(year) || time.size() != 8) return std::nullopt;
  long y = std::stol(std::string(year));
  if (year.size() == 2) {
    // RFC 9110: a two-digit year more than 50 years ahead is in the past century.
    const long this_year = 1970 + static_cast<long>(now / 31556952);  // 365.2425 days
    y += 2000;
    if (y > this_year + 50) y -= 100;
  } else if (year.size() != 4) {
    return std::nullopt;
  }
  const std::string iso = std::to_string(y) + "-" + two(m) + "-" + two(std::stol(std::string(day))) + "T" +
                          std::string(time) + "Z";
  auto t = parse_timestamp(iso);
  if (!t) return std::nullopt;
  return *t;
}

}  // namespace

EndpointPolicy policy_for(const config::WebhookConfig& c) {
  EndpointPolicy p;
  p.name = c.name;
  p.format = parse_format(c.format).value_or(Format::generic);
  p.rate_per_minute = c.rate_per_minute;
  p.max_attempts = c.max_attempts;
  p.max_age = c.max_age;
  p.digest_threshold = c.digest_threshold;
  p.retry_min = c.retry_min;
  p.retry_max = c.retry_max;
  return p;
}

std::string_view to_string(OutcomeKind k) {
  switch (k) {
    case OutcomeKind::delivered: return "delivered";
    case OutcomeKind::retry: return "retry";
    case OutcomeKind::rate_limited: return "rate_limited";
    case OutcomeKind::rejected: return "rejected";
    case OutcomeKind::gone: return "gone";
  }
  return "unknown";
}

Classified classify(const HttpOutcome& o) {
  if (o.failure == HttpOutcome::Failure::timeout) return {OutcomeKind::retry, "timeout: " + one_line(o.error, 300)};
  if (o.failure == HttpOutcome::Failure::network) return {OutcomeKind::retry, "no response: " + one_line(o.error, 300)};
  std::string description = "HTTP " + std::to_string(o.status);
  const std::string body = one_line(o.body, k_body_excerpt);
  if (!body.empty()) description += ": " + body;
  const long s = o.status;
  if (s >= 200 && s < 300) return {OutcomeKind::delivered, description};
  if (s == 410) return {OutcomeKind::gone, description};
  if (s == 429) return {OutcomeKind::rate_limited, description};
  if (s == 400 || s == 413 || s == 415 || s == 422) return {OutcomeKind::rejected, description};
  if (s >= 300 && s < 400) {
    return {OutcomeKind::retry, description + " (a redirect; caad does not follow redirects: put the final URL in url)"};
  }
  return {OutcomeKind::retry, description};
}

std::optional<std::int64_t> parse_retry_after(std::string_view value, UnixSeconds now) {
  value = trim(value);
  // Fractional seconds are not HTTP, but some services send them ("1.5"):
  // rounded up rather than ignored.
  std::string_view whole = value;
  bool fraction = false;
  if (const std::size_t dot = value.find('.'); dot != std::string_view::npos && dot > 0 &&
                                               all_digits(value.substr(dot + 1))) {
    whole = value.substr(0, dot);
    fraction = std::any_of(value.begin() + static_cast<std::ptrdiff_t>(dot) + 1, value.end(),
                           [](char c) { return c != '0'; });
  }
  if (all_digits(whole)) {
    // More than a year is as good as "never"; keep the arithmetic safe.
    if (whole.size() > 9) return std::int64_t{366} * 86400;
    return std::stoll(std::string(whole)) + (fraction ? 1 : 0);
  }
  auto at = parse_http_date(value, now);
  if (!at) return std::nullopt;
  return std::max<std::int64_t>(0, *at - now);
}

std::int64_t backoff_ms(const EndpointPolicy& p, int attempts, std::uint64_t random) {
  const std::int64_t cap = std::max<std::int64_t>(p.retry_max, 1);
  std::int64_t base = std::max<std::int64_t>(p.retry_min, 1);
  for (int i = 1; i < attempts && base < cap; ++i) base *= 3;
  base = std::min(base, cap) * k_ms;
  const double unit = static_cast<double>(random >> 11) * 0x1.0p-53;  // [0, 1)
  const auto jittered = static_cast<std::int64_t>(std::llround(static_cast<double>(base) * (0.8 + 0.4 * unit)));
  return std::clamp<std::int64_t>(jittered, 1, cap * k_ms);
}

std::string webhook_id(const store::OutboxRow& row) {
  return "caad-outbox-" + std::to_string(row.id);
}

std::string digest_id(std::span<const store::OutboxRow> rows) {
  std::string ids;
  for (const store::OutboxRow& r : rows) ids += std::to_string(r.id) + ",";
  const std::int64_t first = rows.empty() ? 0 : rows.front().id;
  return "caad-digest-" + std::to_string(first) + "-" + sha256_hex(ids).substr(0, 16);
}

Dispatcher::Dispatcher(std::vector<EndpointPolicy> endpoints) {
  set_endpoints(std::move(endpoints));
}

void Dispatcher::set_endpoints(std::vector<EndpointPolicy> endpoints) {
  std::map<std::string, Endpoint> next;
  for (EndpointPolicy& p : endpoints) {
    auto it = m_endpoints.find(p.name);
    Endpoint e = it != m_endpoints.end() ? std::move(it->second) : Endpoint{};
    const std::string name = p.name;
    e.policy = std::move(p);
    next.emplace(name, std::move(e));
  }
  m_endpoints = std::move(next);
}

std::vector<std::string> Dispatcher::active_endpoints() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : m_endpoints) {
    if (e.state != State::disabled) out.push_back(name);
  }
  return out;
}

void Dispatcher::disable(const std::string& name) {
  auto it = m_endpoints.find(name);
  if (it == m_endpoints.end()) return;
  it->second.state = State::disabled;
  it->second.queue.clear();
}

void Dispatcher::enable(const std::string& name) {
  auto it = m_endpoints.find(name);
  if (it != m_endpoints.end() && it->second.state == State::disabled) it->second.state = State::idle;
}

bool Dispatcher::disabled(const std::string& name) const {
  auto it = m_endpoints.find(name);
  return it != m_endpoints.end() && it->second.state == State::disabled;
}

std::size_t Dispatcher::queued(const std::string& name) const {
  auto it = m_endpoints.find(name);
  return it == m_endpoints.end() ? 0 : it->second.queue.size();
}

void Dispatcher::offer(std::span<const store::OutboxRow> rows, UnixMillis now) {
  std::map<std::string, std::vector<store::OutboxRow>> by_endpoint;
  for (const store::OutboxRow& r : rows) {
    if (m_in_flight.count(r.id) || m_recording.count(r.id)) continue;
    by_endpoint[r.endpoint].push_back(r);
  }
  for (auto& [name, e] : m_endpoints) {
    if (e.state == State::disabled) continue;
    if (e.state == State::paused && now < e.paused_until) {
      // The store holds these back too, once the failure is written.
      e.queue.clear();
      continue;
    }
    auto it = by_endpoint.find(name);
    e.queue = it != by_endpoint.end() ? std::move(it->second) : std::vector<store::OutboxRow>{};
    std::sort(e.queue.begin(), e.queue.end(),
              [](const store::OutboxRow& a, const store::OutboxRow& b) { return a.id < b.id; });
    if (!e.queue.empty() && e.queue.back().id > e.max_seen_id) {
      e.max_seen_id = e.queue.back().id;
      e.grew_at = now;
    }
    const bool backlog = e.policy.digest_threshold > 0 && e.queue.size() > e.policy.digest_threshold;
    if (!backlog) {
      e.backlog_since = 0;
    } else if (e.backlog_since == 0) {
      e.backlog_since = now;
    }
  }
}

std::optional<UnixMillis> Dispatcher::ready_at(const Endpoint& e) {
  if (e.state == State::disabled || e.state == State::sending) return std::nullopt;
  if (e.state == State::paused) return e.paused_until;
  if (e.queue.empty()) return std::nullopt;
  UnixMillis at = std::numeric_limits<UnixMillis>::min();
  if (e.policy.rate_per_minute > 0 && e.last_send_at) {
    at = *e.last_send_at + 60 * k_ms / static_cast<UnixMillis>(e.policy.rate_per_minute);
  }
  if (e.backlog_since != 0) {
    at = std::max(at, std::min(e.grew_at + k_digest_quiet_ms, e.backlog_since + k_digest_max_wait_ms));
  }
  return at;
}

Plan Dispatcher::plan(UnixMillis now) {
  Plan plan;
  const UnixSeconds now_s = to_seconds_floor(now);
  for (auto& [name, e] : m_endpoints) {
    if (e.state == State::paused && now >= e.paused_until) e.state = State::idle;
    if (e.state != State::idle) continue;
    // The wall clock went back: the rate limit counts from now, not from the future.
    if (e.last_send_at && *e.last_send_at > now) e.last_send_at = now;

    // Rows past their limits go to the dead letters without another try.
    std::vector<store::OutboxRow> keep;
    for (store::OutboxRow& r : e.queue) {
      const bool too_many = r.attempts >= static_cast<int>(e.policy.max_attempts);
      const bool too_old = now_s - r.created_at >= e.policy.max_age;
      if (!too_many && !too_old) {
        keep.push_back(std::move(r));
        continue;
      }
      std::string why = too_many ? "dead: " + std::to_string(r.attempts) + " attempts failed"
                                 : "dead: not delivered within max_age " + format_duration(e.policy.max_age) +
                                       " (" + std::to_string(r.attempts) + " attempts)";
      if (r.last_error) why += "; last error: " + *r.last_error;
      plan.dead.push_back({r.id, store::OutboxState::dead, false, now_s, 0, why});
      plan.log.push_back({LogLevel::error, "webhook " + name + ": gave up on " + webhook_id(r) + " (" +
                                               r.event.kind + " " + r.event.subject + "): " + why});
      m_recording.insert(r.id);
    }
    e.queue = std::move(keep);
    const bool backlog = e.policy.digest_threshold > 0 && e.queue.size() > e.policy.digest_threshold;
    if (!backlog) e.backlog_since = 0;
    if (e.queue.empty()) continue;
    auto at = ready_at(e);
    if (at && now < *at) continue;

    Send s;
    s.policy = e.policy;
    if (backlog) {
      s.rows = std::move(e.queue);
      e.queue.clear();
      e.backlog_since = 0;
      s.digest = true;
      s.webhook_id = digest_id(s.rows);
    } else {
      s.rows.push_back(std::move(e.queue.front()));
      e.queue.erase(e.queue.begin());
      s.webhook_id = webhook_id(s.rows.front());
    }
    for (const store::OutboxRow& r : s.rows) m_in_flight.insert(r.id);
    e.state = State::sending;
    e.last_send_at = now;
    plan.sends.push_back(std::move(s));
  }
  return plan;
}

Disposition Dispatcher::complete(const Send& s, const HttpOutcome& o, UnixMillis now, std::uint64_t random) {
  const EndpointPolicy& p = s.policy;
  const UnixSeconds now_s = to_seconds_floor(now);
  for (const store::OutboxRow& r : s.rows) {
    m_in_flight.erase(r.id);
    m_recording.insert(r.id);
  }
  auto it = m_endpoints.find(p.name);
  Endpoint* e = it != m_endpoints.end() ? &it->second : nullptr;
  if (e != nullptr && e->state == State::sending) e->state = State::idle;

  const Classified c = classify(o);
  const std::string what = describe_send(s);
  const std::string prefix = "webhook " + p.name + ": ";
  const std::string took = " in " + std::to_string(o.elapsed_ms) + " ms";
  Disposition d;

  switch (c.kind) {
    case OutcomeKind::delivered:
      for (const store::OutboxRow& r : s.rows) {
        d.updates.push_back({r.id, store::OutboxState::delivered, true, now_s, 0, std::nullopt});
      }
      d.log = {LogLevel::info, prefix + "delivered " + what + ", " + c.description + took};
      return d;

    case OutcomeKind::rejected: {
      const std::string why = "rejected by the receiver: " + c.description;
      for (const store::OutboxRow& r : s.rows) {
        d.updates.push_back({r.id, store::OutboxState::dead, true, now_s, 0, why});
      }
      d.log = {LogLevel::error, prefix + what + " was " + why + "; retrying would send the same message, so " +
                                    ids_text(s) + " stay in the outbox as dead"};
      return d;
    }

    case OutcomeKind::gone: {
      const std::string why = c.description + "; the receiver says this webhook no longer exists, so endpoint " +
                              p.name + " is disabled until its url changes";
      for (const store::OutboxRow& r : s.rows) {
        d.updates.push_back({r.id, store::OutboxState::pending, true, now_s, now_s, why});
      }
      d.disable = store::DisabledEndpoint{p.name, "", now_s, c.description};
      if (e != nullptr) {
        e->state = State::disabled;
        e->queue.clear();
      }
      d.log = {LogLevel::error, prefix + c.description + " for " + what +
                                    ": the webhook is gone; endpoint disabled and its alerts kept pending until "
                                    "its url in the configuration changes (then SIGHUP)"};
      return d;
    }

    case OutcomeKind::retry:
    case OutcomeKind::rate_limited:
      break;
  }

  int attempts = 0;
  for (const store::OutboxRow& r : s.rows) attempts = std::max(attempts, r.attempts + 1);
  std::int64_t delay = backoff_ms(p, attempts, random);
  std::string delay_why = "backoff";
  if (o.retry_after) {
    if (auto seconds = parse_retry_after(*o.retry_after, now_s)) {
      // Honoured as asked, but never past the point where the row would be dead anyway.
      delay = std::clamp<std::int64_t>(*seconds * k_ms, k_ms, std::max<std::int64_t>(p.max_age, 1) * k_ms);
      delay_why = "Retry-After";
    }
  }
  const UnixMillis until = now + delay;
  const UnixSeconds next_s = to_seconds_ceil(until);
  std::size_t retried = 0;
  std::size_t dead = 0;
  for (const store::OutboxRow& r : s.rows) {
    const int n = r.attempts + 1;
    if (n >= static_cast<int>(p.max_attempts)) {
      d.updates.push_back({r.id, store::OutboxState::dead, true, now_s, 0,
                           "dead: " + std::to_string(n) + " attempts failed; last error: " + c.description});
      ++dead;
    } else if (next_s - r.created_at >= p.max_age) {
      d.updates.push_back({r.id, store::OutboxState::dead, true, now_s, 0,
                           "dead: not delivered within max_age " + format_duration(p.max_age) + " (" +
                               std::to_string(n) + " attempts); last error: " + c.description});
      ++dead;
    } else {
      d.updates.push_back({r.id, store::OutboxState::pending, true, now_s, next_s, c.description});
      ++retried;
    }
  }
  if (retried > 0 && e != nullptr) {
    e->state = State::paused;
    e->paused_until = until;
    e->queue.clear();
  }
  std::string text = prefix + c.description + took + " for " + what + " (attempt " + std::to_string(attempts) +
                     " of " + std::to_string(p.max_attempts) + ")";
  if (retried > 0) text += "; next attempt in " + seconds_text(delay) + " (" + delay_why + ")";
  if (dead > 0) text += "; " + std::to_string(dead) + " row(s) dead-lettered: too many attempts or too old";
  d.log = {dead > 0 ? LogLevel::error : LogLevel::warn, text};
  return d;
}

void Dispatcher::recorded(std::span<const store::OutboxUpdate> updates) {
  for (const store::OutboxUpdate& u : updates) m_recording.erase(u.id);
}

std::optional<UnixMillis> Dispatcher::next_wakeup() const {
  std::optional<UnixMillis> soonest;
  for (const auto& [name, e] : m_endpoints) {
    auto at = ready_at(e);
    if (at && (!soonest || *at < *soonest)) soonest = at;
  }
  return soonest;
}

}  // namespace caad::alerts
