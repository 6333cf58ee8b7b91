// Tests for lib/alerts/delivery: the delivery policy driven by hand, with a
// fake clock (every call takes `now`) and fixed random numbers: backoff and
// its jitter bounds, Retry-After in both forms, 429, 410, rejections, the
// rate limit, dead letters by attempts and by age, order per endpoint, and
// digests of bursts.
#include "lib/alerts/delivery.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace alerts = caad::alerts;
using alerts::Dispatcher;
using alerts::EndpointPolicy;
using alerts::HttpOutcome;
using alerts::OutcomeKind;
using alerts::UnixMillis;
using caad::store::OutboxRow;
using caad::store::OutboxState;
using caad::store::OutboxUpdate;
using caad::store::Severity;

namespace {

constexpr caad::UnixSeconds k_start_s = 1'780'000'000;
constexpr UnixMillis k_start = k_start_s * 1000;
constexpr std::uint64_t k_low = 0;                                           // jitter factor 0.8
constexpr std::uint64_t k_high = std::numeric_limits<std::uint64_t>::max();  // jitter factor ~1.2
constexpr std::uint64_t k_mid = std::uint64_t{1} << 63;                      // jitter factor 1.0

EndpointPolicy policy(const std::string& name = "hook", unsigned rate = 0, unsigned threshold = 10) {
  EndpointPolicy p;
  p.name = name;
  p.rate_per_minute = rate;
  p.digest_threshold = threshold;
  p.retry_min = 5;
  p.retry_max = 3600;
  return p;
}

OutboxRow row(std::int64_t id, const std::string& subject = "shop.example", const std::string& endpoint = "hook",
              int attempts = 0, caad::UnixSeconds created = k_start_s) {
  OutboxRow r;
  r.id = id;
  r.event_id = id;
  r.endpoint = endpoint;
  r.attempts = attempts;
  r.created_at = created;
  r.next_attempt_at = created;
  r.event = caad::store::Event{"regression", Severity::critical, subject, created, nlohmann::json::object()};
  return r;
}

std::vector<OutboxRow> rows(std::int64_t first, std::int64_t count, const std::string& endpoint = "hook") {
  std::vector<OutboxRow> out;
  for (std::int64_t i = 0; i < count; ++i) out.push_back(row(first + i, "d" + std::to_string(i), endpoint));
  return out;
}

HttpOutcome status(long code, std::optional<std::string> retry_after = std::nullopt) {
  HttpOutcome o;
  o.status = code;
  o.retry_after = std::move(retry_after);
  return o;
}

HttpOutcome no_response(HttpOutcome::Failure f) {
  HttpOutcome o;
  o.failure = f;
  o.error = f == HttpOutcome::Failure::timeout ? "Operation timed out after 15000 milliseconds"
                                               : "Failed to connect to 127.0.0.1 port 9: Connection refused";
  return o;
}

// Sends one row, checks it is the one expected, and completes it.
alerts::Disposition send_one(Dispatcher& d, UnixMillis now, std::int64_t expected_id, const HttpOutcome& o,
                             std::uint64_t random = k_mid) {
  alerts::Plan p = d.plan(now);
  REQUIRE(p.sends.size() == 1);
  REQUIRE(p.sends[0].rows.size() == 1);
  CHECK(p.sends[0].rows[0].id == expected_id);
  CHECK(p.sends[0].webhook_id == "caad-outbox-" + std::to_string(expected_id));
  alerts::Disposition result = d.complete(p.sends[0], o, now + 50, random);
  d.recorded(result.updates);
  return result;
}

}  // namespace

TEST_CASE("backoff: retry_min tripled per failure, capped, jitter within ±20% and never past the cap") {
  const EndpointPolicy p = policy();
  std::int64_t previous = 0;
  for (int attempts = 1; attempts <= 12; ++attempts) {
    CAPTURE(attempts);
    std::int64_t base = 5;
    for (int i = 1; i < attempts; ++i) base = std::min<std::int64_t>(base * 3, 3600);
    base *= 1000;
    const std::int64_t low = alerts::backoff_ms(p, attempts, k_low);
    const std::int64_t mid = alerts::backoff_ms(p, attempts, k_mid);
    const std::int64_t high = alerts::backoff_ms(p, attempts, k_high);
    CHECK(low == base * 8 / 10);
    CHECK(mid == base);
    CHECK(high <= std::min<std::int64_t>(base * 12 / 10, 3600 * 1000));
    CHECK(high >= std::min<std::int64_t>(base * 12 / 10 - 1, 3600 * 1000));
    CHECK(low <= mid);
    CHECK(mid <= high);
    CHECK(mid >= previous);  // never shrinks
    previous = mid;
    for (std::uint64_t r : {std::uint64_t{12345}, std::uint64_t{0x9e3779b97f4a7c15}, k_high / 3}) {
      const std::int64_t v = alerts::backoff_ms(p, attempts, r);
      CHECK(v >= base * 8 / 10);
      CHECK(v <= std::min<std::int64_t>(base * 12 / 10, 3600 * 1000));
    }
  }
  CHECK(alerts::backoff_ms(p, 1, k_mid) == 5000);
  CHECK(alerts::backoff_ms(p, 2, k_mid) == 15000);
  CHECK(alerts::backoff_ms(p, 3, k_mid) == 45000);
  CHECK(alerts::backoff_ms(p, 9, k_mid) == 3600000);
}

TEST_CASE("Retry-After: delay-seconds and all three HTTP-date forms") {
  // 1994-11-06T08:49:37Z, the date in RFC 9110's examples.
  constexpr caad::UnixSeconds k_date = 784111777;
  CHECK(alerts::parse_retry_after("120", 0) == 120);
  CHECK(alerts::parse_retry_after(" 0 ", 0) == 0);
  CHECK(alerts::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", k_date - 30) == 30);
  CHECK(alerts::parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", k_date - 30) == 30);
  CHECK(alerts::parse_retry_after("Sun Nov  6 08:49:37 1994", k_date - 30) == 30);
  CHECK(alerts::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", k_date + 100) == 0);  // past: at once
  CHECK(alerts::parse_retry_after("99999999999999999999", 0) == 366 * 86400);
  // Not HTTP, but sent by some services: rounded up.
  CHECK(alerts::parse_retry_after("1.5", 0) == 2);
  CHECK(alerts::parse_retry_after("3.000", 0) == 3);
  for (const char* bad : {"", "soon", "-5", ".5", "1.5s", "1.", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 08:49 GMT"}) {
    CAPTURE(bad);
    CHECK_FALSE(alerts::parse_retry_after(bad, 0).has_value());
  }
}

TEST_CASE("classify: what each HTTP outcome means") {
  CHECK(alerts::classify(status(200)).kind == OutcomeKind::delivered);
  CHECK(alerts::classify(status(204)).kind == OutcomeKind::delivered);
  CHECK(alerts::classify(status(410)).kind == OutcomeKind::gone);
  CHECK(alerts::classify(status(429)).kind == OutcomeKind::rate_limited);
  for (long s : {400L, 413L, 415L, 422L}) CHECK(alerts::classify(status(s)).kind == OutcomeKind::rejected);
  for (long s : {301L, 401L, 403L, 404L, 408L, 500L, 502L, 503L}) CHECK(alerts::classify(status(s)).kind == OutcomeKind::retry);
  CHECK(alerts::classify(no_response(HttpOutcome::Failure::timeout)).kind == OutcomeKind::retry);
  CHECK(alerts::classify(no_response(HttpOutcome::Failure::timeout)).description ==
        "timeout: Operation timed out after 15000 milliseconds");
  HttpOutcome body = status(500);
  body.body = "oops\nline two";
  CHECK(alerts::classify(body).description == "HTTP 500: oops line two");
}

TEST_CASE("a row is delivered once, with a stable webhook-id") {
  Dispatcher d({policy()});
  CHECK(d.active_endpoints() == std::vector<std::string>{"hook"});
  d.offer(rows(1, 1), k_start);
  const alerts::Disposition r = send_one(d, k_start, 1, status(200));
  REQUIRE(r.updates.size() == 1);
  CHECK(r.updates[0].id == 1);
  CHECK(r.updates[0].state == OutboxState::delivered);
  CHECK(r.updates[0].attempted);
  CHECK(r.updates[0].at == k_start_s);
  CHECK_FALSE(r.disable.has_value());
  CHECK(r.log.level == alerts::LogLevel::info);
  CHECK(d.plan(k_start + 100).sends.empty());
  CHECK_FALSE(d.next_wakeup().has_value());
}

TEST_CASE("one message in flight per endpoint, in id order; a stale fetch does not send a row twice") {
  Dispatcher d({policy()});
  d.offer(rows(1, 3), k_start);
  alerts::Plan p = d.plan(k_start);
  REQUIRE(p.sends.size() == 1);
  CHECK(p.sends[0].rows[0].id == 1);
  // A fetch that raced the send still lists row 1 as pending.
  d.offer(rows(1, 3), k_start + 10);
  CHECK(d.plan(k_start + 10).sends.empty());
  CHECK(d.queued("hook") == 2);
  alerts::Disposition r = d.complete(p.sends[0], status(200), k_start + 20, k_mid);
  // Until the store has the outcome, a fetch still shows row 1: it must not go again.
  d.offer(rows(1, 3), k_start + 30);
  alerts::Plan next = d.plan(k_start + 30);
  REQUIRE(next.sends.size() == 1);
  CHECK(next.sends[0].rows[0].id == 2);
  d.recorded(r.updates);
}

TEST_CASE("a failure pauses the endpoint with backoff; later rows wait; the retry keeps its webhook-id") {
  Dispatcher d({policy(), policy("other")});
  d.offer(rows(1, 3), k_start);
  const alerts::Disposition r = send_one(d, k_start, 1, status(503));
  REQUIRE(r.updates.size() == 1);
  const OutboxUpdate& u = r.updates[0];
  CHECK(u.state == OutboxState::pending);
  CHECK(u.attempted);
  CHECK(u.next_attempt_at == k_start_s + 6);  // 5 s after k_start + 50 ms, rounded up
  CHECK(u.last_error == "HTTP 503");
  CHECK(r.log.level == alerts::LogLevel::warn);
  CHECK(r.log.text.find("next attempt in 5s") != std::string::npos);
  CHECK(d.next_wakeup() == k_start + 50 + 5000);

  // Paused: rows 2 and 3 are not sent, even when fetched again; other endpoints go on.
  std::vector<OutboxRow> fetched = rows(2, 2);
  fetched.push_back(row(10, "x", "other"));
  d.offer(fetched, k_start + 1000);
  alerts::Plan p = d.plan(k_start + 1000);
  REQUIRE(p.sends.size() == 1);
  CHECK(p.sends[0].policy.name == "other");
  CHECK(d.queued("hook") == 0);

  // After the pause the store returns row 1 first (its next_attempt_at held the others back).
  std::vector<OutboxRow> again = {row(1, "shop.example", "hook", 1), row(2), row(3)};
  d.offer(again, k_start + 6000);
  alerts::Plan retry = d.plan(k_start + 6000);
  REQUIRE(retry.sends.size() == 1);
  CHECK(retry.sends[0].webhook_id == "caad-outbox-1");
  const alerts::Disposition second = d.complete(retry.sends[0], no_response(HttpOutcome::Failure::network), k_start + 6000, k_mid);
  // Second failure: 15 s.
  CHECK(second.updates[0].next_attempt_at == k_start_s + 6 + 15);
  CHECK(second.updates[0].last_error->find("no response: Failed to connect") == 0);
}

TEST_CASE("429 and 503 honour Retry-After, in seconds or as an HTTP date") {
  Dispatcher d({policy()});
  d.offer(rows(1, 1), k_start);
  alerts::Disposition r = send_one(d, k_start, 1, status(429, "7"));
  CHECK(r.updates[0].next_attempt_at == k_start_s + 8);  // k_start + 50 ms + 7 s, rounded up
  CHECK(r.log.text.find("Retry-After") != std::string::npos);
  CHECK(d.next_wakeup() == k_start + 50 + 7000);

  // 503 with a date 40 s ahead: 40 s, not the 15 s backoff.
  Dispatcher e({policy()});
  e.offer(std::vector<OutboxRow>{row(1, "shop.example", "hook", 1)}, k_start);
  r = send_one(e, k_start, 1, status(503, "Thu, 28 May 2026 20:27:20 GMT"));  // k_start_s is 20:26:40
  CHECK(r.updates[0].next_attempt_at == k_start_s + 41);  // 40 s after k_start + 50 ms, rounded up

  // 429 without Retry-After: the backoff.
  Dispatcher f({policy()});
  f.offer(rows(1, 1), k_start);
  r = send_one(f, k_start, 1, status(429), k_low);
  CHECK(r.updates[0].next_attempt_at == k_start_s + 5);  // 4 s + 50 ms, rounded up
  // A Retry-After that does not parse: the backoff too.
  Dispatcher g({policy()});
  g.offer(rows(1, 1), k_start);
  r = send_one(g, k_start, 1, status(429, "later"), k_mid);
  CHECK(r.updates[0].next_attempt_at == k_start_s + 6);
}

TEST_CASE("410 Gone disables the endpoint and keeps its rows pending") {
  Dispatcher d({policy(), policy("other")});
  d.offer(rows(1, 2), k_start);
  const alerts::Disposition r = send_one(d, k_start, 1, status(410));
  REQUIRE(r.disable.has_value());
  CHECK(r.disable->name == "hook");
  CHECK(r.disable->reason == "HTTP 410");
  CHECK(r.updates[0].state == OutboxState::pending);
  CHECK(r.updates[0].last_error->find("disabled until its url changes") != std::string::npos);
  CHECK(r.log.level == alerts::LogLevel::error);
  CHECK(d.disabled("hook"));
  CHECK(d.active_endpoints() == std::vector<std::string>{"other"});
  d.offer(rows(1, 2), k_start + 5000);
  CHECK(d.plan(k_start + 5000).sends.empty());
  d.enable("hook");
  d.offer(rows(1, 2), k_start + 6000);
  CHECK(d.plan(k_start + 6000).sends.size() == 1);
}

TEST_CASE("a message the receiver rejects is dead at once; the next row goes right away") {
  Dispatcher d({policy()});
  d.offer(rows(1, 2), k_start);
  HttpOutcome bad = status(400);
  bad.body = "invalid_blocks";
  const alerts::Disposition r = send_one(d, k_start, 1, bad);
  CHECK(r.updates[0].state == OutboxState::dead);
  CHECK(r.updates[0].last_error == "rejected by the receiver: HTTP 400: invalid_blocks");
  CHECK(r.log.level == alerts::LogLevel::error);
  send_one(d, k_start + 100, 2, status(200));
}

TEST_CASE("the rate limit spaces messages to one endpoint") {
  Dispatcher d({policy("hook", 60), policy("fast", 0)});
  std::vector<OutboxRow> fetched = rows(1, 3);
  for (OutboxRow& r : rows(10, 3, "fast")) fetched.push_back(r);
  d.offer(fetched, k_start);
  alerts::Plan p = d.plan(k_start);
  CHECK(p.sends.size() == 2);
  for (const alerts::Send& s : p.sends) d.recorded(d.complete(s, status(200), k_start + 100, k_mid).updates);
  p = d.plan(k_start + 100);
  REQUIRE(p.sends.size() == 1);  // "fast" has no limit; "hook" waits for its second
  CHECK(p.sends[0].policy.name == "fast");
  d.recorded(d.complete(p.sends[0], status(200), k_start + 150, k_mid).updates);
  CHECK(d.next_wakeup() <= k_start + 150);  // "fast" can go at once
  p = d.plan(k_start + 150);
  REQUIRE(p.sends.size() == 1);
  CHECK(p.sends[0].policy.name == "fast");
  d.recorded(d.complete(p.sends[0], status(200), k_start + 200, k_mid).updates);
  CHECK(d.next_wakeup() == k_start + 1000);
  CHECK(d.plan(k_start + 999).sends.empty());
  p = d.plan(k_start + 1000);
  REQUIRE(p.sends.size() == 1);
  CHECK(p.sends[0].rows[0].id == 2);
}

TEST_CASE("dead letters by attempts: the last failure, or a row already over the limit") {
  EndpointPolicy p = policy();
  p.max_attempts = 3;
  Dispatcher d({p});
  d.offer(std::vector<OutboxRow>{row(1, "a.example", "hook", 2)}, k_start);
  const alerts::Disposition r = send_one(d, k_start, 1, status(500));
  CHECK(r.updates[0].state == OutboxState::dead);
  CHECK(r.updates[0].last_error == "dead: 3 attempts failed; last error: HTTP 500");
  CHECK(r.log.level == alerts::LogLevel::error);
  // Nothing left waiting: the endpoint is not paused for a dead row.
  d.offer(std::vector<OutboxRow>{row(2)}, k_start + 100);
  CHECK(d.plan(k_start + 100).sends.size() == 1);

  Dispatcher e({p});
  OutboxRow tried = row(5, "b.example", "hook", 3);
  tried.last_error = "HTTP 502";
  e.offer(std::vector<OutboxRow>{tried, row(6)}, k_start);
  alerts::Plan plan = e.plan(k_start);
  REQUIRE(plan.dead.size() == 1);
  CHECK(plan.dead[0].id == 5);
  CHECK(plan.dead[0].state == OutboxState::dead);
  CHECK_FALSE(plan.dead[0].attempted);
  CHECK(plan.dead[0].last_error == "dead: 3 attempts failed; last error: HTTP 502");
  REQUIRE(plan.sends.size() == 1);
  CHECK(plan.sends[0].rows[0].id == 6);
}

TEST_CASE("dead letters by age: a row too old is not sent; a retry past max_age is not scheduled") {
  EndpointPolicy p = policy();
  p.max_age = 3600;
  Dispatcher d({p});
  d.offer(std::vector<OutboxRow>{row(1, "old.example", "hook", 4, k_start_s - 3600), row(2)}, k_start);
  alerts::Plan plan = d.plan(k_start);
  REQUIRE(plan.dead.size() == 1);
  CHECK(plan.dead[0].last_error->find("dead: not delivered within max_age 1h") == 0);
  REQUIRE(plan.sends.size() == 1);
  CHECK(plan.sends[0].rows[0].id == 2);

  Dispatcher e({p});
  // Created 59m50s ago: the next attempt (about 18 s away) would be past the hour.
  e.offer(std::vector<OutboxRow>{row(3, "late.example", "hook", 1, k_start_s - 3590)}, k_start);
  const alerts::Disposition r = send_one(e, k_start, 3, status(500), k_high);
  CHECK(r.updates[0].state == OutboxState::dead);
  CHECK(r.updates[0].last_error->find("max_age") != std::string::npos);
}

TEST_CASE("a burst becomes one digest once it settles; the digest id comes from its rows") {
  Dispatcher d({policy("hook", 60, 10)});
  d.offer(rows(1, 25), k_start);
  CHECK(d.plan(k_start).sends.empty());  // settling
  CHECK(d.next_wakeup() == k_start + alerts::k_digest_quiet_ms);
  // More of the burst arrives: the quiet period starts again.
  d.offer(rows(1, 40), k_start + 1500);
  CHECK(d.plan(k_start + 2000).sends.empty());
  CHECK(d.next_wakeup() == k_start + 3500);
  alerts::Plan p = d.plan(k_start + 3500);
  REQUIRE(p.sends.size() == 1);
  const alerts::Send& s = p.sends[0];
  CHECK(s.digest);
  CHECK(s.rows.size() == 40);
  CHECK(s.rows.front().id == 1);
  CHECK(s.rows.back().id == 40);
  CHECK(s.webhook_id == alerts::digest_id(s.rows));
  CHECK(s.webhook_id.rfind("caad-digest-1-", 0) == 0);
  const alerts::Disposition r = d.complete(s, status(200), k_start + 3600, k_mid);
  CHECK(r.updates.size() == 40);
  CHECK(std::all_of(r.updates.begin(), r.updates.end(),
                    [](const OutboxUpdate& u) { return u.state == OutboxState::delivered; }));
  CHECK(r.log.text.find("a digest of 40 events") != std::string::npos);
  d.recorded(r.updates);

  // The same rows give the same id; other rows another.
  const std::vector<OutboxRow> a = rows(1, 40);
  CHECK(alerts::digest_id(a) == s.webhook_id);
  CHECK(alerts::digest_id(rows(1, 39)) != s.webhook_id);
}

TEST_CASE("a backlog that keeps growing is sent after the maximum wait; a small one goes row by row") {
  Dispatcher d({policy("hook", 0, 10)});
  for (int i = 0; i <= 10; ++i) {
    d.offer(rows(1, 11 + i), k_start + i * 1000);
    if (i < 10) CHECK(d.plan(k_start + i * 1000).sends.empty());
  }
  alerts::Plan p = d.plan(k_start + alerts::k_digest_max_wait_ms);
  REQUIRE(p.sends.size() == 1);
  CHECK(p.sends[0].digest);
  CHECK(p.sends[0].rows.size() == 21);

  Dispatcher small({policy("hook", 0, 10)});
  small.offer(rows(1, 10), k_start);
  p = small.plan(k_start);
  REQUIRE(p.sends.size() == 1);
  CHECK_FALSE(p.sends[0].digest);

  // digest_threshold 0: never a digest.
  Dispatcher never({policy("hook", 0, 0)});
  never.offer(rows(1, 500), k_start);
  p = never.plan(k_start);
  REQUIRE(p.sends.size() == 1);
  CHECK_FALSE(p.sends[0].digest);
}

TEST_CASE("a failed digest pauses the endpoint and counts an attempt on each of its rows") {
  Dispatcher d({policy("hook", 0, 2)});
  d.offer(rows(1, 5), k_start);
  alerts::Plan p = d.plan(k_start + alerts::k_digest_quiet_ms);
  REQUIRE(p.sends.size() == 1);
  const alerts::Disposition r = d.complete(p.sends[0], no_response(HttpOutcome::Failure::timeout),
                                           k_start + alerts::k_digest_quiet_ms, k_mid);
  CHECK(r.updates.size() == 5);
  for (const OutboxUpdate& u : r.updates) {
    CHECK(u.state == OutboxState::pending);
    CHECK(u.attempted);
    CHECK(u.next_attempt_at == k_start_s + 2 + 5);
  }
}

TEST_CASE("a new configuration keeps the state of endpoints that stay") {
  Dispatcher d({policy("a"), policy("b")});
  d.offer(std::vector<OutboxRow>{row(1, "x", "a"), row(2, "y", "b")}, k_start);
  alerts::Plan p = d.plan(k_start);
  REQUIRE(p.sends.size() == 2);
  d.set_endpoints({policy("a", 60), policy("c")});
  CHECK(d.active_endpoints() == std::vector<std::string>{"a", "c"});
  // "a" is still sending; the outcome of "b" (removed) is still reported.
  d.offer(std::vector<OutboxRow>{row(1, "x", "a"), row(3, "z", "a")}, k_start + 10);
  CHECK(d.plan(k_start + 10).sends.empty());
  for (const alerts::Send& s : p.sends) {
    const alerts::Disposition r = d.complete(s, status(200), k_start + 20, k_mid);
    CHECK(r.updates.size() == 1);
    d.recorded(r.updates);
  }
  // "a" now has a rate limit of one a second.
  d.offer(std::vector<OutboxRow>{row(3, "z", "a")}, k_start + 30);
  CHECK(d.plan(k_start + 30).sends.empty());
  CHECK(d.plan(k_start + 1000).sends.size() == 1);
}
