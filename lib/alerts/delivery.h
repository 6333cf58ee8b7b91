// The webhook delivery policy, as a state machine without I/O. The outbox
// is the truth; this decides, from the rows the store found deliverable,
// what to send now and what each HTTP outcome means for those rows. The
// daemon (daemon/notify) does the HTTP and the database work and feeds the
// results back; tests drive it with a fake clock and fixed random numbers.
//
// Per endpoint, one message is in flight at a time and rows go out in id
// order, so the alerts about one domain arrive in the order they happened.
// A failure (5xx, 408, 429, timeout, network, or a 4xx that an operator can
// fix such as 401/403/404) pauses the whole endpoint with exponential backoff
// and jitter (or for as long as Retry-After says): the failed rows get their
// next attempt time, and the store keeps every later row of the endpoint
// back until then, so nothing overtakes a row that is waiting, even across
// a restart. A rejection of the message itself (400, 413, 415, 422) would be
// the same next time: those rows are dead-lettered at once. 410 Gone disables
// the endpoint until its URL changes. A row is dead-lettered after
// max_attempts attempts or once it is older than max_age; dead rows stay in
// the outbox, visible. Sends are spaced by the endpoint's rate limit. When
// more than digest_threshold rows wait for one endpoint, they go out as ONE
// digest message, once the burst has settled (no new row for 2 s, or 10 s
// after the backlog formed).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "lib/alerts/payload.h"
#include "lib/config/config.h"
#include "lib/store/types.h"

namespace caad::alerts {

using UnixMillis = std::int64_t;  // wall-clock milliseconds since the epoch

// How long a burst may keep growing before its digest goes out.
inline constexpr UnixMillis k_digest_quiet_ms = 2000;
inline constexpr UnixMillis k_digest_max_wait_ms = 10000;

// What the configuration says about one endpoint's delivery.
struct EndpointPolicy {
  std::string name;
  Format format = Format::generic;
  unsigned rate_per_minute = 0;       // 0: no limit
  unsigned max_attempts = 10;
  std::int64_t max_age = 24 * 3600;   // seconds
  unsigned digest_threshold = 10;     // more rows waiting than this: one digest; 0: never
  std::int64_t retry_min = 5;         // seconds: the first backoff
  std::int64_t retry_max = 6 * 3600;  // seconds: the backoff's cap
};
EndpointPolicy policy_for(const config::WebhookConfig& c);

// What the HTTP layer reports for one request.
struct HttpOutcome {
  enum class Failure { none, timeout, network };
  long status = 0;  // 0 when no response came
  Failure failure = Failure::none;
  std::string error;                       // why no response came
  std::optional<std::string> retry_after;  // the Retry-After header, as sent
  std::string body;                        // the start of the response body
  std::int64_t elapsed_ms = 0;
};

enum class OutcomeKind {
  delivered,     // 2xx
  retry,         // 5xx, 408, 425, 3xx, other 4xx, timeout, network error
  rate_limited,  // 429
  rejected,      // 400, 413, 415, 422: this message will never be accepted
  gone,          // 410: the webhook no longer exists
};
// "delivered", "retry", "rate_limited", "rejected", "gone".
std::string_view to_string(OutcomeKind k);
struct Classified {
  OutcomeKind kind;
  std::string description;  // "HTTP 500: <body>", "timeout: <why>"...
};
Classified classify(const HttpOutcome& o);

// Seconds to wait from a Retry-After value: delay-seconds or an HTTP-date
// (IMF-fixdate, RFC 850 or asctime form; RFC 9110 §10.2.3). nullopt: not
// a value either way.
std::optional<std::int64_t> parse_retry_after(std::string_view value, UnixSeconds now);

// The wait before the next attempt after `attempts` failed ones (>= 1):
// retry_min·3^(attempts−1), at most retry_max, then ±20% jitter from
// `random` (uniform over 64 bits), never more than retry_max.
std::int64_t backoff_ms(const EndpointPolicy& p, int attempts, std::uint64_t random);

// The webhook-id of a row ("caad-outbox-<id>"), the same for every retry,
// and of a digest (derived from the ids of the rows it covers).
std::string webhook_id(const store::OutboxRow& row);
std::string digest_id(std::span<const store::OutboxRow> rows);

// One message to send: one row, or a digest of many.
struct Send {
  EndpointPolicy policy;
  std::vector<store::OutboxRow> rows;  // in id order
  bool digest = false;
  std::string webhook_id;
};

enum class LogLevel { debug, info, warn, error };
struct LogLine {
  LogLevel level = LogLevel::info;
  std::string text;
};

// What to write after an outcome, and what to tell the log.
struct Disposition {
  std::vector<store::OutboxUpdate> updates;
  std::optional<store::DisabledEndpoint> disable;  // url_sha256 left for the caller
  LogLine log;
};

// What to do now.
struct Plan {
  std::vector<Send> sends;                  // at most one per endpoint
  std::vector<store::OutboxUpdate> dead;    // rows to dead-letter without sending
  std::vector<LogLine> log;
};

class Dispatcher {
 public:
  explicit Dispatcher(std::vector<EndpointPolicy> endpoints = {});

  // A new configuration: endpoints that stay keep their state and queue.
  void set_endpoints(std::vector<EndpointPolicy> endpoints);
  // Endpoints to fetch rows for: configured and not disabled.
  std::vector<std::string> active_endpoints() const;
  void disable(const std::string& name);
  void enable(const std::string& name);
  bool disabled(const std::string& name) const;

  // The rows the store found deliverable, in id order. They replace what was
  // queued; rows in flight or whose outcome is being written are skipped.
  void offer(std::span<const store::OutboxRow> rows, UnixMillis now);
  Plan plan(UnixMillis now);
  // The outcome of a Send from plan(). Its rows count as being written until
  // recorded() says the store has them.
  Disposition complete(const Send& s, const HttpOutcome& o, UnixMillis now, std::uint64_t random);
  void recorded(std::span<const store::OutboxUpdate> updates);

  // When plan() may have something to do without new rows (a pause or rate
  // limit ending, a burst settling); nullopt: not before offer().
  std::optional<UnixMillis> next_wakeup() const;
  std::size_t in_flight() const { return m_in_flight.size(); }
  std::size_t queued(const std::string& name) const;

 private:
  enum class State { idle, sending, paused, disabled };
  struct Endpoint {
    EndpointPolicy policy;
    State state = State::idle;
    std::vector<store::OutboxRow> queue;
    std::int64_t max_seen_id = 0;
    UnixMillis grew_at = 0;         // when a row newer than any seen arrived
    UnixMillis backlog_since = 0;   // when the queue went over the threshold; 0: it is not
    UnixMillis paused_until = 0;
    std::optional<UnixMillis> last_send_at;
  };
  static std::optional<UnixMillis> ready_at(const Endpoint& e);

  std::map<std::string, Endpoint> m_endpoints;
  std::unordered_set<std::int64_t> m_in_flight;
  std::unordered_set<std::int64_t> m_recording;
};

}  // namespace caad::alerts
